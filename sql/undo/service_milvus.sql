-- Undoes step service_milvus: drops the Milvus service (FORCE: it has a block volume). Everything IF EXISTS: safe on half-built stacks.
USE ROLE SYSADMIN;
DROP SERVICE IF EXISTS <% database %>.<% schema %>.<% milvus_service %> FORCE;
