"""One APIRouter per resource: tasks, images, and the service endpoints (health, readiness,
metrics)."""
