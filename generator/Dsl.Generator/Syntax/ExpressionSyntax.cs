using Dsl.Generator.Diagnostics;
using Dsl.Generator.Model;
using Dsl.Generator.Syntax.Yaml;

namespace Dsl.Generator.Syntax;

/// <summary>
/// Expression syntax, parsed once by the parse stage. Offsets are relative to the YAML scalar that holds the
/// expression (<see cref="ExpressionText"/> turns them into file positions). Value-equal, so it caches.
/// </summary>
internal abstract record ExprSyntax(int Start, int End)
{
    public int Length => End - Start;
}

internal sealed record NameSyntax(int Start, int End, string Name) : ExprSyntax(Start, End);

internal sealed record MemberSyntax(ExprSyntax Target, string Member, int MemberStart, int MemberEnd) : ExprSyntax(Target.Start, MemberEnd)
{
    /// <summary>The member's name alone, for diagnostics that point at it.</summary>
    public NameSyntax MemberName => new(MemberStart, MemberEnd, Member);
}

internal sealed record CallSyntax(ExprSyntax Target, EquatableArray<ExprSyntax> Arguments, int CallEnd) : ExprSyntax(Target.Start, CallEnd);

internal enum LiteralKind { String, Int, Bool, Null, Duration, Decimal }

/// <summary>
/// A literal; <see cref="Text"/> is the unescaped string, the digits, <c>true</c>/<c>false</c>, <c>null</c>, a duration
/// as written (<c>60s</c>, <c>500ms</c>) or a decimal as written (<c>0.5</c>).
/// </summary>
internal sealed record LiteralSyntax(int Start, int End, LiteralKind Kind, string Text) : ExprSyntax(Start, End);

internal sealed record UnarySyntax(int OperatorStart, string Operator, ExprSyntax Operand) : ExprSyntax(OperatorStart, Operand.End);

internal sealed record BinarySyntax(ExprSyntax Left, string Operator, int OperatorStart, ExprSyntax Right) : ExprSyntax(Left.Start, Right.End);

/// <summary><c>if CONDITION then A else B</c>.</summary>
internal sealed record ConditionalSyntax(int IfStart, ExprSyntax Condition, ExprSyntax Then, ExprSyntax Else) : ExprSyntax(IfStart, Else.End);

internal sealed record ListSyntax(int Start, int End, EquatableArray<ExprSyntax> Items) : ExprSyntax(Start, End);

/// <summary>An expression as written in a YAML scalar: the scalar (for positions and excerpts) and its syntax.</summary>
internal sealed record ExpressionText(YamlScalar Source, ExprSyntax Syntax)
{
    /// <summary>Where a part of the expression is in the file.</summary>
    public SourceSpan At(int offset, int length)
        => Source.Style == ScalarStyle.Block ? Source.Span : Source.ContentSpan.Shift(offset, length);

    public SourceSpan At(ExprSyntax part) => At(part.Start, part.Length);

    /// <summary>The text of a part of the expression.</summary>
    public string Excerpt(ExprSyntax part)
        => part.Start >= 0 && part.End <= Source.Value.Length && part.Length > 0 ? Source.Value.Substring(part.Start, part.Length) : Source.Value;

    public SourceSpan Span => At(Syntax);
}

/// <summary>A check as written: <c>condition else CODE</c>.</summary>
internal sealed record CheckSyntax(ExpressionText Condition, string Code, int CodeStart)
{
    public SourceSpan CodeSpan => Condition.At(CodeStart, Code.Length);

    /// <summary>The condition as written, for the detail of the failure it raises.</summary>
    public string ConditionText => Condition.Source.Value.Substring(0, Condition.Syntax.End).Trim();

    /// <summary>The line of the check, for <c>#line</c>.</summary>
    public SourceSpan Span => Condition.Source.Span;
}

/// <summary>A syntax error in an expression, at an offset in its scalar.</summary>
internal sealed class ExprSyntaxException(int offset, int length, string message) : System.Exception(message)
{
    public int Offset { get; } = offset;
    public int ErrorLength { get; } = length;
}
