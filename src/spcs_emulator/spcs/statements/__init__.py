"""SQL of SPCS objects: compute pools, services, what SHOW lists in a service, SYSTEM$ functions."""
