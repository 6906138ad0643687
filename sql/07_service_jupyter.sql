-- Stage 7, services: the Jupyter service, from jupyter.yaml on the specs stage (uploaded before this
-- runs). Independent of the Milvus service: the harness creates both at once.
-- Runs as SYSADMIN, which owns the service and holds BIND SERVICE ENDPOINT for its public endpoint.
-- Variables: database, schema, jupyter_service, jupyter_pool, specs_stage, integration, comment.
USE ROLE SYSADMIN;
USE DATABASE <% database %>;
USE SCHEMA <% schema %>;

CREATE SERVICE IF NOT EXISTS <% jupyter_service %>
  IN COMPUTE POOL <% jupyter_pool %>
  FROM @<% specs_stage %>
  SPECIFICATION_FILE = 'jupyter.yaml'
  MIN_INSTANCES = 1
  MAX_INSTANCES = 1
  AUTO_RESUME = TRUE
  EXTERNAL_ACCESS_INTEGRATIONS = (<% integration %>)
  COMMENT = '<% comment %>';
