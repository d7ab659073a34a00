"""Alembic migrations, shipped inside the package so the installed app upgrades at start."""
