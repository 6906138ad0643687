"""The SPCS control plane (pools, services, endpoints, lifecycle) and runtime (processes, DNS, ingress)."""
