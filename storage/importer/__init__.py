"""Registry import (`fupin-bot import households|cadres|pairings|milestones FILE`).

`import_file` reads a CSV (UTF-8 with or without BOM, GB18030) or XLSX file, validates every
row and upserts the valid data in one transaction; see docs/import-formats.md.
"""

from storage.importer.columns import KINDS, SPECS
from storage.importer.readers import ImportFileError
from storage.importer.service import ImportDatabaseError, ImportReport, RowError, import_file

__all__ = [
    "KINDS",
    "SPECS",
    "ImportDatabaseError",
    "ImportFileError",
    "ImportReport",
    "RowError",
    "import_file",
]
