"""The gateway's domain: what its resources are, whatever process shows, stores or sends them."""
