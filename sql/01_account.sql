-- Stage 1, account: the ingress OAuth security integration that public SPCS endpoints need.
-- Runs as ACCOUNTADMIN. Variables: ingress_integration. It carries no run label: the janitor must
-- not take a shared object for a leaked one.
-- Snowflake allows one SNOWSERVICES_INGRESS integration per account: it is shared by every run,
-- created only if missing (IF NOT EXISTS) and never dropped by a run's teardown.
-- BIND SERVICE ENDPOINT is granted in 04_grants.sql.
USE ROLE ACCOUNTADMIN;

CREATE SECURITY INTEGRATION IF NOT EXISTS <% ingress_integration %>
  TYPE = OAUTH
  OAUTH_CLIENT = SNOWSERVICES_INGRESS
  ENABLED = TRUE
  COMMENT = 'milvus-spcs: shared by every run, never dropped';
