"""The small, safe expression language of blocks: parsed over its own grammar, never eval'd.

    expr  := or ['if' or 'else' expr]
    or    := and ('or' and)*          and := not ('and' not)*        not := 'not' not | cmp
    cmp   := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum)*
    sum   := term (('+'|'-') term)*    term := unary (('*'|'//'|'%') unary)*
    unary := ('-'|'+') unary | atom
    atom  := INT | true | false | null | NAME | ('min'|'max') '(' expr (',' expr)* ')' | '(' expr
    ')'

>>> evaluate("planes * 4", {"planes": 64})
256
>>> evaluate("2 if index == 0 and down else 1", {"index": 0, "down": True})
2
"""

from __future__ import annotations

import functools
import re

MAX_LENGTH = 500
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z_0-9]*)|(//|==|!=|<=|>=|[-+*%<>(),]))")
_CONST = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}
_KEYWORDS = {"if", "else", "and", "or", "not"}


class ExprError(Exception):
    pass


def tokenize(text: str) -> list[tuple[str, object]]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    tokens, pos = [], 0
    text = text.rstrip()
    if "**" in text:
        raise ExprError("'**' is not an operator here: write the product out (a * a)")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            rest = text[pos:].strip()
            if rest.startswith("/"):
                raise ExprError(
                    "'/' is not an operator here: use // for integer division (sizes are integers)"
                )
            if rest.startswith("**"):
                raise ExprError("'**' is not an operator here: write the product out (a * a)")
            raise ExprError(f"unexpected {rest[:10]!r}")
        num, name, op = m.groups()
        if num is not None:
            if len(num) > 18:
                raise ExprError(
                    f"the integer {num[:12]}... has more than 18 digits (the limit for "
                    "integers in expressions)"
                )
            tokens.append(("int", int(num)))
        elif name is not None:
            tokens.append(("kw", name) if name in _KEYWORDS else ("name", name))
        else:
            tokens.append(("op", op))
        pos = m.end()
    tokens.append(("end", None))
    return tokens


class _Parser:
    """Recursive descent into a tree of tuples; ``_eval`` walks it (short-circuiting like
    Python)."""

    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self, kind=None, value=None):
        tok = self.tokens[self.i]
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            found = "the end" if tok[0] == "end" else repr(tok[1])
            raise ExprError(f"expected {value or kind!r}, found {found}")
        self.i += 1
        return tok

    def at(self, kind, *values):
        tok = self.tokens[self.i]
        return tok[0] == kind and (not values or tok[1] in values)

    def expr(self):
        self.depth += 1
        if self.depth > 50:
            raise ExprError("expression nested too deeply")
        node = self.or_()
        if self.at("kw", "if"):
            self.take()
            cond = self.or_()
            self.take("kw", "else")
            node = ("if", cond, node, self.expr())
        self.depth -= 1
        return node

    def or_(self):
        node = self.and_()
        while self.at("kw", "or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.at("kw", "and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.at("kw", "not"):
            self.take()
            return ("not", self.not_())
        return self.cmp()

    def cmp(self):
        operands, ops = [self.sum()], []
        while self.at("op", "==", "!=", "<", "<=", ">", ">="):
            ops.append(self.take()[1])
            operands.append(self.sum())
        return ("cmp", ops, operands) if ops else operands[0]

    def sum(self):
        node = self.term()
        while self.at("op", "+", "-"):
            node = ("bin", self.take()[1], node, self.term())
        return node

    def term(self):
        node = self.unary()
        while self.at("op", "*", "//", "%"):
            node = ("bin", self.take()[1], node, self.unary())
        return node

    def unary(self):
        if self.at("op", "-", "+"):
            op = self.take()[1]
            return ("neg" if op == "-" else "pos", self.unary())
        return self.atom()

    def atom(self):
        kind, value = self.peek()
        if kind == "int":
            self.take()
            return ("const", value)
        if kind == "op" and value == "(":
            self.take()
            node = self.expr()
            self.take("op", ")")
            return node
        if kind == "name":
            self.take()
            if value in ("min", "max") and self.at("op", "("):
                self.take()
                items = [self.expr()]
                while self.at("op", ","):
                    self.take()
                    items.append(self.expr())
                self.take("op", ")")
                return ("call", value, items)
            return ("const", _CONST[value]) if value in _CONST else ("name", value)
        found = "the end" if kind == "end" else repr(value)
        raise ExprError(f"expected a value, found {found}")


_CMP = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: _num(a) < _num(b),
    "<=": lambda a, b: _num(a) <= _num(b),
    ">": lambda a, b: _num(a) > _num(b),
    ">=": lambda a, b: _num(a) >= _num(b),
}


def _eval(node, env: dict):
    tag = node[0]
    if tag == "const":
        return node[1]
    if tag == "name":
        if node[1] not in env:
            raise ExprError(f"unknown name '{node[1]}' (known: {', '.join(sorted(env)) or 'none'})")
        return env[node[1]]
    if tag == "if":
        return _eval(node[2], env) if _eval(node[1], env) else _eval(node[3], env)
    if tag == "or":
        return _eval(node[1], env) or _eval(node[2], env)
    if tag == "and":
        return _eval(node[1], env) and _eval(node[2], env)
    if tag == "not":
        return not _eval(node[1], env)
    if tag == "neg":
        return -_num(_eval(node[1], env))
    if tag == "pos":
        return _num(_eval(node[1], env))
    if tag == "call":
        items = [_num(_eval(n, env)) for n in node[2]]
        return min(items) if node[1] == "min" else max(items)
    if tag == "cmp":
        left = _eval(node[2][0], env)
        for op, n in zip(node[1], node[2][1:]):
            right = _eval(n, env)
            if not _CMP[op](left, right):
                return False
            left = right
        return True
    op, a, b = node[1], _num(_eval(node[2], env)), _num(_eval(node[3], env))
    if op in ("//", "%") and b == 0:
        raise ExprError("division by zero")
    if op == "+":
        return _bounded(a + b)
    if op == "-":
        return _bounded(a - b)
    if op == "*":
        return _bounded(a * b)
    return a // b if op == "//" else a % b


MAX_INT = 10**18  # no size in a net comes near it; bounding every step keeps evaluation fast


def _bounded(v: int) -> int:
    if abs(v) > MAX_INT:
        raise ExprError(
            f"a value in the expression exceeds {MAX_INT:.0e} (the limit for integers in "
            "expressions)"
        )
    return v


def _num(v):
    if isinstance(v, bool) or isinstance(v, int):
        if abs(v) > MAX_INT:
            raise ExprError(
                f"a value in the expression exceeds {MAX_INT:.0e} (the limit for integers "
                "in expressions)"
            )
        return int(v)
    from ..diagnostics import cut

    raise ExprError(f"expected a number, found {cut(repr(v), 40)}")


def evaluate(text: str, env: dict, charge=None):
    """Evaluate one expression over ``env``; raises ExprError with what went wrong.
    ``charge(n)``, where given, is told the n steps the evaluation takes (it may refuse them)."""
    node, steps = parse(text)
    if charge is not None:
        charge(steps)
    return _eval(node, env)


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> tuple[tuple, int]:
    """An expression's tree of tuples and the steps evaluating it takes: parsed once per text,
    however often a block is used, with its parts that use no name folded to their values (a
    text that does not parse raises ExprError each time)."""
    p = _Parser(text)
    node = p.expr()
    if not p.at("end"):
        raise ExprError(f"unexpected {p.peek()[1]!r} after the expression")
    return _fold(node)


def _fold(node) -> tuple[tuple, int]:
    """(the node with its name-free parts evaluated, the number of nodes left to evaluate)."""
    tag = node[0]
    if tag in ("const", "name"):
        return node, 1
    if tag == "bin":
        (x, m), (y, n) = _fold(node[2]), _fold(node[3])
        node, kids = ("bin", node[1], x, y), (x, y)
    elif tag == "cmp":
        folded = [_fold(c) for c in node[2]]
        kids = tuple(k for k, _ in folded)
        node, m, n = ("cmp", tuple(node[1]), kids), sum(s for _, s in folded), 0
    elif tag == "call":
        folded = [_fold(c) for c in node[2]]
        kids = tuple(k for k, _ in folded)
        node, m, n = ("call", node[1], kids), sum(s for _, s in folded), 0
    else:  # if, or, and, not, neg, pos: nodes only
        folded = [_fold(c) for c in node[1:]]
        kids = tuple(k for k, _ in folded)
        node, m, n = (tag, *kids), sum(s for _, s in folded), 0
    if all(k[0] == "const" for k in kids):
        try:
            return ("const", _eval(node, {})), 1
        except ExprError:  # refused whatever the args (2 // 0): said where it is used
            pass
    return node, 1 + m + n


_FULL = re.compile(r"^\$\{(.*)\}$", re.S)
_PART = re.compile(r"\$\{([^}]*)\}")


def substitute(value, env: dict, charge=None):
    """A string that is exactly ``${EXPR}`` becomes its value; ``${EXPR}`` inside text becomes
    its text."""
    m = _FULL.match(value)
    if m and "${" not in m.group(1):
        return evaluate(m.group(1), env, charge)
    return _PART.sub(lambda mm: _text(evaluate(mm.group(1), env, charge)), value)


def _text(v) -> str:
    return "true" if v is True else "false" if v is False else str(v)
