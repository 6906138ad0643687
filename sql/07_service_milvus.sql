-- Stage 7, services: the Milvus service, from milvus.yaml on the specs stage (uploaded before this
-- runs). Independent of the Jupyter service: the harness creates both at once.
-- Runs as SYSADMIN, which owns the service (as in the guide); the run's role reaches Jupyter only,
-- through the service role granted in 08_endpoint_access.sql.
-- Variables: database, schema, milvus_service, milvus_pool, specs_stage, integration, comment.
USE ROLE SYSADMIN;
USE DATABASE <% database %>;
USE SCHEMA <% schema %>;

-- No OR REPLACE: services have none. One instance: Milvus standalone is not a cluster.
CREATE SERVICE IF NOT EXISTS <% milvus_service %>
  IN COMPUTE POOL <% milvus_pool %>
  FROM @<% specs_stage %>
  SPECIFICATION_FILE = 'milvus.yaml'
  MIN_INSTANCES = 1
  MAX_INSTANCES = 1
  AUTO_RESUME = TRUE
  EXTERNAL_ACCESS_INTEGRATIONS = (<% integration %>)
  COMMENT = '<% comment %>';
