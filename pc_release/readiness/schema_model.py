"""What a schema file creates, read with PostgreSQL's grammar: each statement's parse tree, and the tables,
columns and constraints the schema lint compares between the released and the candidate schema."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ConstrType, ObjectType
from pglast.parser import ParseError
from pglast.stream import RawStream

from pc_release.readiness.sql_statements import SqlStatement


@dataclass(frozen=True)
class Parsed:
    """A statement and its parse tree; `line_at` gives the file line of a node's location."""

    statement: SqlStatement
    node: ast.Node

    def line_at(self, node: ast.Node) -> int:
        location = getattr(node, "location", None)
        return self.statement.line if location is None or location < 0 else self.statement.line_of(location + 1)


def parsed_statements(statements: Iterable[SqlStatement]) -> Iterator[Parsed]:
    """Each statement PostgreSQL's grammar accepts. One it refuses is left to the database run, which reports it
    with PostgreSQL's own error and line."""
    for statement in statements:
        try:
            raws = parse_sql(statement.text)
        except ParseError:
            continue
        for raw in raws:
            yield Parsed(statement, raw.stmt)


def definition(constraint: ast.Constraint) -> str:
    """The constraint as PostgreSQL's deparser prints it, without its name: spacing, keyword case and redundant
    parentheses do not count, literal values do."""
    unnamed = ast.Constraint(constraint())
    unnamed.conname = None
    return RawStream()(unnamed)


def is_temporary(relation: ast.RangeVar) -> bool:
    return relation.relpersistence == "t"


def is_alter_table(node: ast.Node) -> bool:
    """ALTER TABLE proper: ALTER INDEX/VIEW/SEQUENCE share the node type but not the rules."""
    return isinstance(node, ast.AlterTableStmt) and node.objtype == ObjectType.OBJECT_TABLE


@dataclass
class Table:
    line: int
    # column -> file line of its definition
    columns: dict[str, int] = field(default_factory=dict)
    # constraint name -> (definition, file line), as CREATE TABLE declares them inline
    inline_constraints: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class SchemaModel:
    tables: dict[str, Table] = field(default_factory=dict)
    added_columns: dict[str, set[str]] = field(default_factory=dict)
    # (table, constraint) -> definition of every ALTER TABLE ... ADD CONSTRAINT
    added_constraints: dict[tuple[str, str], str] = field(default_factory=dict)
    # (table, constraint) re-created after DROP CONSTRAINT IF EXISTS: refreshed on every deploy
    refreshed: set[tuple[str, str]] = field(default_factory=set)

    def columns(self, table: str) -> set[str]:
        created = set(self.tables[table].columns) if table in self.tables else set()
        return created | self.added_columns.get(table, set())

    def constraint(self, table: str, name: str) -> str | None:
        inline = self.tables.get(table)
        if inline is not None and name in inline.inline_constraints:
            return inline.inline_constraints[name][0]
        return self.added_constraints.get((table, name))


def created_table(parsed: Parsed, node: ast.CreateStmt) -> Table:
    """Columns and inline constraints of a CREATE TABLE, named as PostgreSQL names unnamed column checks."""
    table = node.relation.relname
    created = Table(line=parsed.statement.line)
    for position, element in enumerate(node.tableElts or ()):
        if isinstance(element, ast.ColumnDef):
            created.columns[element.colname] = parsed.line_at(element)
            for constraint in element.constraints or ():
                if constraint.contype == ConstrType.CONSTR_CHECK:
                    name = constraint.conname or f"{table}_{element.colname}_check"
                    created.inline_constraints[name] = (definition(constraint), parsed.line_at(constraint))
        elif isinstance(element, ast.Constraint):
            if constraint_name := element.conname:
                created.inline_constraints[constraint_name] = (definition(element), parsed.line_at(element))
            elif element.contype == ConstrType.CONSTR_CHECK:
                # Unnamed table checks get a generated name; only their position identifies them.
                created.inline_constraints[f"{table}_check#{position}"] = (definition(element), parsed.line_at(element))
    return created


def schema_model(statements: Iterable[SqlStatement]) -> SchemaModel:
    model = SchemaModel()
    dropped: set[tuple[str, str]] = set()
    for parsed in parsed_statements(statements):
        node = parsed.node
        if isinstance(node, ast.CreateStmt) and not is_temporary(node.relation):
            model.tables.setdefault(node.relation.relname, created_table(parsed, node))
            continue
        if not is_alter_table(node):
            continue
        table = node.relation.relname
        for command in node.cmds or ():
            if command.subtype == AlterTableType.AT_DropConstraint and command.missing_ok:
                dropped.add((table, command.name))
            elif command.subtype == AlterTableType.AT_AddConstraint and command.def_.conname:
                key = (table, command.def_.conname)
                model.added_constraints[key] = definition(command.def_)
                if key in dropped:
                    model.refreshed.add(key)
            elif command.subtype == AlterTableType.AT_AddColumn:
                model.added_columns.setdefault(table, set()).add(command.def_.colname)
    return model
