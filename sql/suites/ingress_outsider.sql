-- The ingress suite's outsider: a user of the run with no role and no endpoint access, whose token the
-- ingress must refuse (suites/spcs/test_ingress.py). Labelled with the run like everything else:
-- 90_teardown.sql (and so `milvus-spcs down` and the janitor) drops it with the run's stack.
-- Variables: outsider, password (generated, a secret: never logged), comment.
USE ROLE USERADMIN;

CREATE USER <% outsider %>
  PASSWORD = '<% password %>'
  MUST_CHANGE_PASSWORD = FALSE
  COMMENT = '<% comment %>';
