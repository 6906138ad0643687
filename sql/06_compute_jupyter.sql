-- Stage 6, compute: the Jupyter compute pool (independent of the other pool: the harness creates both
-- at once). The smallest CPU family, one node, suspended after five idle minutes.
-- Runs as SYSADMIN, which owns it.
-- Variables: jupyter_pool, comment.
USE ROLE SYSADMIN;

CREATE COMPUTE POOL IF NOT EXISTS <% jupyter_pool %>
  MIN_NODES = 1
  MAX_NODES = 1
  INSTANCE_FAMILY = CPU_X64_XS
  AUTO_RESUME = TRUE
  AUTO_SUSPEND_SECS = 300
  INITIALLY_SUSPENDED = FALSE
  COMMENT = '<% comment %>';
