"""ResultTable: the tidy result of a bench or a sweep (one row per measurement).

A list of flat dicts with a fixed column order plus a `meta` dict (the machine
description and the settings of the run). Standard library only:

    table.rows                      list of dicts, one per measurement
    table.columns                   column names, in order
    table.meta                      {"machine": {...}, ...}: travels with the JSON
    table.filter(dtype="float32")   rows whose columns equal the given values (a value may be a
                                    list/tuple/set: any of them), as a new table with the same meta
    table.column("ns_per_element")  one column as a list
    table.to_csv(path=None)         CSV text, or write it to path (and return the path)
    table.to_json(path=None)        {"meta": ..., "columns": [...], "rows": [...]} likewise
    table.to_pandas()               a pandas.DataFrame (pandas is optional), meta in .attrs
    ResultTable.read_json(path)     the inverse of to_json
    ResultTable.read_csv(path)      the inverse of to_csv (numbers parsed back, empty cells -> None)

Missing values are None in rows, empty cells in CSV and null in JSON.
"""
import csv
import io
import json
import math
import os


def _json_value(value):
    """NaN/inf are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _parse_cell(text):
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


class ResultTable:
    """Rows of measurements with named columns and a `meta` header. See the module docstring."""

    def __init__(self, rows=(), columns=None, meta=None):
        self.rows = [dict(r) for r in rows]
        if columns is None:
            columns = []
            for row in self.rows:
                columns.extend(k for k in row if k not in columns)
        self.columns = list(columns)
        unknown = {k for row in self.rows for k in row} - set(self.columns)
        if unknown:
            raise ValueError(f"ResultTable: rows have columns not in `columns`: {sorted(unknown)}")
        self.meta = dict(meta or {})

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self):
        return f"<{type(self).__name__}: {len(self.rows)} rows x {len(self.columns)} columns>"

    def column(self, name):
        if name not in self.columns:
            raise KeyError(f"ResultTable: no column {name!r}; columns are {self.columns}")
        return [row.get(name) for row in self.rows]

    def filter(self, **where):
        """Rows whose columns equal the given values; a list/tuple/set value matches any member."""
        for name in where:
            if name not in self.columns:
                raise KeyError(f"ResultTable.filter: no column {name!r}; columns are {self.columns}")

        def keep(row):
            for name, want in where.items():
                have = row.get(name)
                if isinstance(want, (list, tuple, set, frozenset)):
                    if have not in want:
                        return False
                elif have != want:
                    return False
            return True
        return type(self)([r for r in self.rows if keep(r)], self.columns, self.meta)

    # ------------------------------------------------------------ output

    @staticmethod
    def _emit(text, path):
        if path is None:
            return text
        path = os.fspath(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            f.write(text)
        return path

    def to_csv(self, path=None):
        """CSV with a header row; returns the text, or writes it to `path` and returns the path."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in self.columns})
        return self._emit(buf.getvalue(), path)

    def to_json(self, path=None, indent=1):
        """{"meta": ..., "columns": [...], "rows": [...]}; returns the text or writes it to `path`."""
        doc = {"meta": self.meta, "columns": self.columns,
               "rows": [{k: _json_value(row.get(k)) for k in self.columns} for row in self.rows]}
        return self._emit(json.dumps(doc, indent=indent, default=str) + "\n", path)

    def to_pandas(self):
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("ResultTable.to_pandas needs pandas (pip install pandas); "
                              "to_csv() and to_json() work without it") from None
        frame = pd.DataFrame(self.rows, columns=self.columns)
        frame.attrs.update(self.meta)
        return frame

    # ------------------------------------------------------------ input

    @classmethod
    def read_json(cls, path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return cls(doc["rows"], doc["columns"], doc.get("meta"))

    @classmethod
    def read_csv(cls, path, meta=None):
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [{k: _parse_cell(v) for k, v in row.items()} for row in reader]
            return cls(rows, reader.fieldnames, meta)
