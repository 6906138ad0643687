-- Stage 8, endpoint access: the run's role may use the Jupyter service's endpoints (the ingress
-- checks ALL_ENDPOINTS_USAGE) and see the service (USAGE, as the guide grants). Nothing on Milvus:
-- only Jupyter talks to it, inside SPCS.
-- Runs as SYSADMIN, the owner of the service.
-- Variables: database, schema, jupyter_service, role.
USE ROLE SYSADMIN;

GRANT SERVICE ROLE <% database %>.<% schema %>.<% jupyter_service %>!ALL_ENDPOINTS_USAGE TO ROLE <% role %>;
GRANT USAGE ON SERVICE <% database %>.<% schema %>.<% jupyter_service %> TO ROLE <% role %>;
