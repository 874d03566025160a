"""Pure rules of deskchat: no SQLAlchemy, FastAPI, asyncio or I/O."""
