"""SQL front end: a declared grammar (sql/grammar.lark) parsed into the typed statements of sql/ast.py."""
