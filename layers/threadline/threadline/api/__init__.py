"""HTTP edge shared by the route handlers: errors, tenant, request checks."""
