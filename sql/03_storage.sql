-- Stage 3, storage: warehouse, database (and schema), image repository, specs stage, files stage.
-- Runs as SYSADMIN, which owns them all.
-- Variables: warehouse, database, schema, repository, specs_stage, files_stage, comment.
USE ROLE SYSADMIN;

-- Suspended until used, and suspended again after a minute idle: the harness barely needs it.
CREATE WAREHOUSE IF NOT EXISTS <% warehouse %>
  WAREHOUSE_SIZE = 'X-SMALL'
  AUTO_SUSPEND = 60
  AUTO_RESUME = TRUE
  INITIALLY_SUSPENDED = TRUE
  COMMENT = '<% comment %>';

CREATE DATABASE IF NOT EXISTS <% database %>
  COMMENT = '<% comment %>';

-- PUBLIC comes with the database (then this is a no-op); any other schema is created here.
CREATE SCHEMA IF NOT EXISTS <% database %>.<% schema %>
  COMMENT = '<% comment %>';

CREATE IMAGE REPOSITORY IF NOT EXISTS <% database %>.<% schema %>.<% repository %>
  COMMENT = '<% comment %>';

CREATE STAGE IF NOT EXISTS <% database %>.<% schema %>.<% specs_stage %>
  COMMENT = '<% comment %>';

-- Server-side encryption: SPCS can only mount stages encrypted by Snowflake.
CREATE STAGE IF NOT EXISTS <% database %>.<% schema %>.<% files_stage %>
  ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')
  COMMENT = '<% comment %>';
