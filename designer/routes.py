"""The web designer's pages (filled in by the designer work; the API includes this router)."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
