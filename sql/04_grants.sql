-- Stage 4, grants on the storage objects: exactly what the run's role needs, nothing more (the
-- guide grants ALL PRIVILEGES). Grants on later objects live with them: USAGE on the external access
-- integration in 05_network.sql, the service role and USAGE on the Jupyter service in
-- 08_endpoint_access.sql. The services and pools are owned by SYSADMIN, so the run's role needs no
-- privilege on the pools or the integration.
-- Runs as SECURITYADMIN (MANAGE GRANTS).
-- Variables: role, warehouse, database, schema, repository, specs_stage, files_stage.
USE ROLE SECURITYADMIN;

-- Public endpoints need BIND SERVICE ENDPOINT on the role that owns the services (SYSADMIN, as in
-- the guide). Account-wide and shared by runs: teardown leaves it in place.
GRANT BIND SERVICE ENDPOINT ON ACCOUNT TO ROLE SYSADMIN;

GRANT USAGE ON WAREHOUSE <% warehouse %> TO ROLE <% role %>;
GRANT USAGE ON DATABASE <% database %> TO ROLE <% role %>;
GRANT USAGE ON SCHEMA <% database %>.<% schema %> TO ROLE <% role %>;
GRANT READ ON IMAGE REPOSITORY <% database %>.<% schema %>.<% repository %> TO ROLE <% role %>;
GRANT READ ON STAGE <% database %>.<% schema %>.<% specs_stage %> TO ROLE <% role %>;
GRANT READ, WRITE ON STAGE <% database %>.<% schema %>.<% files_stage %> TO ROLE <% role %>;
