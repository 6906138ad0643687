-- Undoes step service_jupyter: drops the Jupyter service. Everything IF EXISTS: safe on half-built stacks.
USE ROLE SYSADMIN;
DROP SERVICE IF EXISTS <% database %>.<% schema %>.<% jupyter_service %> FORCE;
