using System.Collections.Generic;

namespace Dsl.Generator.Binding.Expressions;

/// <summary>Expression syntax; offsets are relative to the start of the YAML scalar that holds it.</summary>
internal abstract class ExprSyntax
{
    protected ExprSyntax(int start, int end)
    {
        Start = start;
        End = end;
    }

    public int Start { get; }
    public int End { get; }
    public int Length => End - Start;
}

internal sealed class NameSyntax(int start, int end, string name) : ExprSyntax(start, end)
{
    public string Name { get; } = name;
}

internal sealed class MemberSyntax(ExprSyntax target, string member, int memberStart, int end) : ExprSyntax(target.Start, end)
{
    public ExprSyntax Target { get; } = target;
    public string Member { get; } = member;
    public int MemberStart { get; } = memberStart;
}

internal sealed class CallSyntax(ExprSyntax target, IReadOnlyList<ExprSyntax> arguments, int end) : ExprSyntax(target.Start, end)
{
    public ExprSyntax Target { get; } = target;
    public IReadOnlyList<ExprSyntax> Arguments { get; } = arguments;
}

internal enum LiteralKind { String, Int, Bool, Null }

internal sealed class LiteralSyntax(int start, int end, LiteralKind kind, string text) : ExprSyntax(start, end)
{
    public LiteralKind Kind { get; } = kind;
    /// <summary>The literal's value: the unescaped string, the digits, "true"/"false" or "null".</summary>
    public string Text { get; } = text;
}

internal sealed class UnarySyntax(int start, string op, ExprSyntax operand) : ExprSyntax(start, operand.End)
{
    public string Operator { get; } = op;
    public ExprSyntax Operand { get; } = operand;
}

internal sealed class BinarySyntax(ExprSyntax left, string op, int operatorStart, ExprSyntax right) : ExprSyntax(left.Start, right.End)
{
    public ExprSyntax Left { get; } = left;
    public string Operator { get; } = op;
    public int OperatorStart { get; } = operatorStart;
    public ExprSyntax Right { get; } = right;
}

internal sealed class ListSyntax(int start, int end, IReadOnlyList<ExprSyntax> items) : ExprSyntax(start, end)
{
    public IReadOnlyList<ExprSyntax> Items { get; } = items;
}

/// <summary>A check as written: <c>condition else CODE</c>.</summary>
internal sealed class CheckSyntax(ExprSyntax condition, string? code, int codeStart)
{
    public ExprSyntax Condition { get; } = condition;
    public string? Code { get; } = code;
    public int CodeStart { get; } = codeStart;
}

/// <summary>A syntax error in an expression, at an offset in its scalar.</summary>
internal sealed class ExprSyntaxException(int offset, int length, string message) : System.Exception(message)
{
    public int Offset { get; } = offset;
    public int ErrorLength { get; } = length;
}
