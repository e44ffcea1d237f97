"""The deployment layout derived from settings: where tables, the MLflow store and staged models live.

Locally a table is a Delta path under the lakehouse root and MLflow is a SQLite file there; on
Databricks a table is a Unity Catalog name `<catalog>.<schema>.<table>`, the registry is Unity
Catalog's and the root is a volume (`/Volumes/...`). `TableRef` carries one table's address so no
caller branches on which of the two it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableRef:
    """A logical table's address: `name` (schema.table) and either a catalog name or a Delta path."""

    name: str
    catalog_name: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if (self.catalog_name is None) == (self.path is None):
            raise ValueError(f"table {self.name}: exactly one of catalog_name and path must be set")

    @property
    def location(self) -> str:
        """Where it is, for messages and for other readers: the catalog name or the Delta path."""
        return self.catalog_name if self.catalog_name is not None else str(self.path)

    @property
    def sql(self) -> str:
        """A SQL identifier: `catalog`.`schema`.`table`, or delta.`/path`."""
        if self.catalog_name is not None:
            return ".".join(f"`{part}`" for part in self.catalog_name.split("."))
        return f"delta.`{self.path}`"

    @property
    def schema_sql(self) -> str | None:
        """The catalog schema to create before the table (`catalog`.`schema`), None for a path."""
        if self.catalog_name is None:
            return None
        catalog, schema, _ = self.catalog_name.split(".")
        return f"`{catalog}`.`{schema}`"


@dataclass(frozen=True)
class Layout:
    root: str
    catalog: str | None = None
    tracking: str | None = None
    registry: str | None = None

    @property
    def uses_catalog(self) -> bool:
        return bool(self.catalog)

    @property
    def root_dir(self) -> str:
        return self.root.rstrip("/")

    @property
    def is_local_filesystem(self) -> bool:
        """True when the root is a folder of this machine (not a URI, not a catalog deployment)."""
        return not self.uses_catalog and "://" not in self.root and not self.root.startswith("dbfs:")

    def table(self, name: str, location: str | None = None) -> TableRef:
        schema, table = name.split(".", 1)
        if self.catalog:
            return TableRef(name, catalog_name=f"{self.catalog}.{schema}.{table}")
        return TableRef(name, path=f"{self.root_dir}/{location}" if location else f"{self.root_dir}/{schema}/{table}")

    def model_name(self, name: str) -> str:
        return f"{self.catalog}.ml.{name}" if self.catalog else name

    @property
    def tracking_uri(self) -> str:
        return self.tracking or f"sqlite:///{self.root_dir}/mlflow/mlflow.db"

    @property
    def registry_uri(self) -> str:
        return self.registry or self.tracking_uri

    @property
    def artifact_location(self) -> str:
        return f"{self.root_dir}/mlflow/artifacts"

    @property
    def model_staging_dir(self) -> str:
        """A folder that the Spark driver (or Connect server) and this Python process both see:
        Spark ML models are saved there by Spark and picked up from there by MLflow."""
        return f"{self.root_dir}/_staging/models"

    @property
    def logs_dir(self) -> str | None:
        return f"{self.root_dir}/logs" if self.is_local_filesystem else None

    @property
    def reports_dir(self) -> str | None:
        return f"{self.root_dir}/reports" if self.is_local_filesystem else None
