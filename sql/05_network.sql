-- Stage 5, network: the egress network rule (inside the run's database, so that dropping the
-- database drops it) and the external access integration the services use.
-- Runs as ACCOUNTADMIN (CREATE INTEGRATION); USAGE on the integration goes to SYSADMIN, the owner of
-- the services.
-- Variables: database, schema, network_rule, integration, comment.
USE ROLE ACCOUNTADMIN;

CREATE NETWORK RULE IF NOT EXISTS <% database %>.<% schema %>.<% network_rule %>
  TYPE = 'HOST_PORT'
  MODE = 'EGRESS'
  VALUE_LIST = ('0.0.0.0:443', '0.0.0.0:80')
  COMMENT = '<% comment %>';

CREATE EXTERNAL ACCESS INTEGRATION IF NOT EXISTS <% integration %>
  ALLOWED_NETWORK_RULES = (<% database %>.<% schema %>.<% network_rule %>)
  ENABLED = TRUE
  COMMENT = '<% comment %>';

GRANT USAGE ON INTEGRATION <% integration %> TO ROLE SYSADMIN;
