using System.Collections.Generic;
using System.Text;

using Dsl.Generator.Model;

namespace Dsl.Generator.Syntax;

/// <summary>
/// Parses the expression language. Precedence, loosest first: <c>if ... then ... else ...</c> (its branches reach
/// as far as they can), <c>||</c>, <c>&amp;&amp;</c>, <c>!</c>, comparisons, <c>??</c> (right-associative), <c>+ -</c>,
/// member access and calls, literals (strings, integers, decimals, durations such as <c>60s</c>), names, parentheses
/// and <c>[lists]</c>.
/// </summary>
internal sealed class ExpressionParser
{
    private enum T { Name, Number, Decimal, Duration, String, Op, End }

    private readonly struct Token(T kind, string text, int start, int end)
    {
        public T Kind { get; } = kind;
        public string Text { get; } = text;
        public int Start { get; } = start;
        public int End { get; } = end;
    }

    private readonly List<Token> _tokens;
    private int _position;

    private ExpressionParser(string text) => _tokens = Lex(text);

    public static ExprSyntax ParseExpression(string text)
    {
        var parser = new ExpressionParser(text);
        var expression = parser.ParseConditional();
        parser.ExpectEnd();
        return expression;
    }

    /// <summary>Parses <c>condition else CODE</c>; the <c>else</c> part may be omitted (the code is then null).</summary>
    public static (ExprSyntax Condition, string? Code, int CodeStart) ParseCheck(string text)
    {
        var parser = new ExpressionParser(text);
        var condition = parser.ParseConditional();
        string? code = null;
        var codeStart = 0;
        if (parser.Peek.Kind == T.Name && parser.Peek.Text == "else")
        {
            parser._position++;
            var codeToken = parser.Peek;
            if (codeToken.Kind != T.Name)
                throw new ExprSyntaxException(codeToken.Start, 1, "expected an error code after 'else'");
            parser._position++;
            code = codeToken.Text;
            codeStart = codeToken.Start;
        }
        parser.ExpectEnd();
        return (condition, code, codeStart);
    }

    private Token Peek => _tokens[_position];

    private void ExpectEnd()
    {
        if (Peek.Kind != T.End)
            throw new ExprSyntaxException(Peek.Start, Peek.End - Peek.Start, $"unexpected '{Peek.Text}'");
    }

    private bool TakeOp(string op, out Token token)
    {
        token = Peek;
        if (token.Kind == T.Op && token.Text == op)
        {
            _position++;
            return true;
        }
        return false;
    }

    /// <summary><c>if c then a else b</c>, or any other expression.</summary>
    private ExprSyntax ParseConditional()
    {
        var start = Peek;
        if (start.Kind != T.Name || start.Text != "if") return ParseOr();
        _position++;
        var condition = ParseConditional();
        ExpectKeyword("then", "after the condition of 'if'");
        var then = ParseConditional();
        ExpectKeyword("else", "after the 'then' value of 'if' (a conditional always has both values)");
        var otherwise = ParseConditional();
        return new ConditionalSyntax(start.Start, condition, then, otherwise);
    }

    private void ExpectKeyword(string keyword, string where)
    {
        if (Peek.Kind == T.Name && Peek.Text == keyword)
        {
            _position++;
            return;
        }
        throw new ExprSyntaxException(Peek.Start, System.Math.Max(1, Peek.End - Peek.Start), $"expected '{keyword}' {where}");
    }

    private ExprSyntax ParseOr()
    {
        var left = ParseAnd();
        while (TakeOp("||", out var op)) left = new BinarySyntax(left, "||", op.Start, ParseAnd());
        return left;
    }

    private ExprSyntax ParseAnd()
    {
        var left = ParseNot();
        while (TakeOp("&&", out var op)) left = new BinarySyntax(left, "&&", op.Start, ParseNot());
        return left;
    }

    private ExprSyntax ParseNot()
    {
        if (TakeOp("!", out var op)) return new UnarySyntax(op.Start, "!", ParseNot());
        return ParseComparison();
    }

    private static readonly string[] s_comparisons = { "==", "!=", "<=", ">=", "<", ">" };

    private ExprSyntax ParseComparison()
    {
        var left = ParseCoalesce();
        foreach (var candidate in s_comparisons)
        {
            if (TakeOp(candidate, out var op))
            {
                var right = ParseCoalesce();
                foreach (var again in s_comparisons)
                    if (Peek.Kind == T.Op && Peek.Text == again)
                        throw new ExprSyntaxException(Peek.Start, Peek.Text.Length, "comparisons cannot be chained; use '&&'");
                return new BinarySyntax(left, candidate, op.Start, right);
            }
        }
        return left;
    }

    private ExprSyntax ParseCoalesce()
    {
        var left = ParseAdditive();
        if (TakeOp("??", out var op)) return new BinarySyntax(left, "??", op.Start, ParseCoalesce());
        return left;
    }

    private ExprSyntax ParseAdditive()
    {
        var left = ParsePostfix();
        while (true)
        {
            if (TakeOp("+", out var plus)) left = new BinarySyntax(left, "+", plus.Start, ParsePostfix());
            else if (TakeOp("-", out var minus)) left = new BinarySyntax(left, "-", minus.Start, ParsePostfix());
            else return left;
        }
    }

    private ExprSyntax ParsePostfix()
    {
        var expression = ParsePrimary();
        while (true)
        {
            if (TakeOp(".", out var dot))
            {
                var member = Peek;
                if (member.Kind != T.Name) throw new ExprSyntaxException(dot.End, 1, "expected a name after '.'");
                _position++;
                expression = new MemberSyntax(expression, member.Text, member.Start, member.End);
            }
            else if (TakeOp("(", out _))
            {
                var arguments = new List<ExprSyntax>();
                if (!TakeOp(")", out var close))
                {
                    do arguments.Add(ParseConditional());
                    while (TakeOp(",", out _));
                    if (!TakeOp(")", out close))
                        throw new ExprSyntaxException(Peek.Start, 1, "expected ')' to close the argument list");
                }
                expression = new CallSyntax(expression, arguments.ToEquatableArray(), close.End);
            }
            else return expression;
        }
    }

    private ExprSyntax ParsePrimary()
    {
        var token = Peek;
        switch (token.Kind)
        {
            case T.Number:
                _position++;
                return new LiteralSyntax(token.Start, token.End, LiteralKind.Int, token.Text);
            case T.Decimal:
                _position++;
                return new LiteralSyntax(token.Start, token.End, LiteralKind.Decimal, token.Text);
            case T.Duration:
                _position++;
                return new LiteralSyntax(token.Start, token.End, LiteralKind.Duration, token.Text);
            case T.String:
                _position++;
                return new LiteralSyntax(token.Start, token.End, LiteralKind.String, token.Text);
            case T.Name:
                _position++;
                return token.Text switch
                {
                    "true" or "false" => new LiteralSyntax(token.Start, token.End, LiteralKind.Bool, token.Text),
                    "null" => new LiteralSyntax(token.Start, token.End, LiteralKind.Null, "null"),
                    "else" => throw new ExprSyntaxException(token.Start, 4, "'else' must follow a condition"),
                    "then" => throw new ExprSyntaxException(token.Start, 4, "'then' must follow the condition of an 'if'"),
                    _ => new NameSyntax(token.Start, token.End, token.Text),
                };
            case T.Op when token.Text == "(":
            {
                _position++;
                var inner = ParseConditional();
                if (!TakeOp(")", out _)) throw new ExprSyntaxException(Peek.Start, 1, "expected ')'");
                return inner;
            }
            case T.Op when token.Text == "[":
            {
                _position++;
                var items = new List<ExprSyntax>();
                if (!TakeOp("]", out var close))
                {
                    do items.Add(ParseConditional());
                    while (TakeOp(",", out _));
                    if (!TakeOp("]", out close)) throw new ExprSyntaxException(Peek.Start, 1, "expected ']'");
                }
                return new ListSyntax(token.Start, close.End, items.ToEquatableArray());
            }
            case T.End:
                throw new ExprSyntaxException(token.Start, 0, "the expression ends too early");
            default:
                throw new ExprSyntaxException(token.Start, token.End - token.Start, $"unexpected '{token.Text}'");
        }
    }

    private static readonly string[] s_operators = { "==", "!=", "<=", ">=", "&&", "||", "??", "<", ">", "!", "+", "-", ".", ",", "(", ")", "[", "]" };

    private static List<Token> Lex(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            var start = i;
            if (char.IsLetter(c) || c == '_')
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_')) i++;
                tokens.Add(new Token(T.Name, text.Substring(start, i - start), start, i));
                continue;
            }
            if (char.IsDigit(c))
            {
                while (i < text.Length && char.IsDigit(text[i])) i++;
                var kind = T.Number;
                // A decimal: digits, a point, digits (0.94); a point followed by a name is member access of nothing, refused below.
                if (i + 1 < text.Length && text[i] == '.' && char.IsDigit(text[i + 1]))
                {
                    i++;
                    while (i < text.Length && char.IsDigit(text[i])) i++;
                    kind = T.Decimal;
                }
                if (i < text.Length && (char.IsLetter(text[i]) || text[i] == '_'))
                {
                    var unitStart = i;
                    while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_')) i++;
                    var unit = text.Substring(unitStart, i - unitStart);
                    if (kind != T.Number || unit is not ("ms" or "s" or "m" or "h"))
                        throw new ExprSyntaxException(start, i - start, $"'{text.Substring(start, i - start)}' is not a number or a duration (a whole number followed by ms, s, m or h, such as 500ms or 60s)");
                    kind = T.Duration;
                }
                tokens.Add(new Token(kind, text.Substring(start, i - start), start, i));
                continue;
            }
            if (c == '"' || c == '\'')
            {
                var value = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new ExprSyntaxException(start, text.Length - start, "the string is not closed");
                    var d = text[i];
                    if (d == c)
                    {
                        i++;
                        break;
                    }
                    if (d == '\\' && i + 1 < text.Length)
                    {
                        var e = text[i + 1];
                        value.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => e });
                        i += 2;
                        continue;
                    }
                    value.Append(d);
                    i++;
                }
                tokens.Add(new Token(T.String, value.ToString(), start, i));
                continue;
            }
            string? matched = null;
            foreach (var op in s_operators)
            {
                if (string.CompareOrdinal(text, i, op, 0, op.Length) == 0)
                {
                    matched = op;
                    break;
                }
            }
            if (matched is null) throw new ExprSyntaxException(i, 1, $"unexpected character '{c}'");
            tokens.Add(new Token(T.Op, matched, i, i + matched.Length));
            i += matched.Length;
        }
        tokens.Add(new Token(T.End, "end of expression", text.Length, text.Length));
        return tokens;
    }
}
