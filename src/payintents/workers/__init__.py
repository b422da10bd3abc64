"""Background work that runs beside the API: expiry of intents and reaping of old keys."""
