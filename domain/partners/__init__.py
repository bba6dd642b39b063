"""Partner integrations: who they are, the purposes they are registered for, their keys."""
