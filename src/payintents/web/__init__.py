"""HTTP: Dojo's API on Starlette, the sandbox checkout page, and the error table."""
