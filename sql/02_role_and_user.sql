-- Stage 2, role and user: the run's role and the user that logs in with it (ingress, notebook).
-- Runs as USERADMIN, which then owns both (teardown drops them as USERADMIN).
-- Variables: role, user, password (generated per run, a secret: never logged), comment.
-- By hand, run it with snow sql --silent: otherwise snow echoes each statement, password included.
USE ROLE USERADMIN;

CREATE ROLE IF NOT EXISTS <% role %>
  COMMENT = '<% comment %>';

CREATE USER IF NOT EXISTS <% user %>
  PASSWORD = '<% password %>'
  DEFAULT_ROLE = <% role %>
  DEFAULT_SECONDARY_ROLES = ('ALL')
  MUST_CHANGE_PASSWORD = FALSE
  COMMENT = '<% comment %>';

GRANT ROLE <% role %> TO USER <% user %>;

-- Snowflake's recommended hierarchy: custom roles roll up to SYSADMIN, so the admin can manage them.
GRANT ROLE <% role %> TO ROLE SYSADMIN;
