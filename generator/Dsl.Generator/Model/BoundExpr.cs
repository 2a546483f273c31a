namespace Dsl.Generator.Model;

/// <summary>A bound, typed expression. Value-equal; lowered to C# by the emitter.</summary>
internal abstract record BoundExpr(ExprType Type);

internal sealed record LiteralExpr(ExprType Type, string Text) : BoundExpr(Type);

/// <summary><c>self.name</c>: one of the evaluating role's inputs.</summary>
internal sealed record InputExpr(ExprType Type, string PropertyName) : BoundExpr(Type);

/// <summary>A field of the current message (<c>msg.x</c>) or of the transcript's latest instance of a message.</summary>
internal sealed record MessageFieldExpr(ExprType Type, string MessageTypeName, string PropertyName, bool IsCurrent, bool MessageMayBeAbsent, bool FieldNullable)
    : BoundExpr(Type);

/// <summary>A value kept by the role: a let binding at a choice.</summary>
internal sealed record LocalExpr(ExprType Type, string FieldName, bool Narrowed) : BoundExpr(Type);

/// <summary>A value given by the context: <c>detail</c> or <c>code</c> in an error, <c>ping</c> fields in a pong.</summary>
internal sealed record ContextExpr(ExprType Type, string CSharp) : BoundExpr(Type);

/// <summary>A call of a built-in function.</summary>
internal sealed record CallExpr(ExprType Type, string Function, EquatableArray<BoundExpr> Arguments) : BoundExpr(Type);

/// <summary>A call of a method of a service, as its C# template with the service's settings filled in.</summary>
internal sealed record ServiceCallExpr(ExprType Type, string ServiceProperty, string Template, EquatableArray<BoundExpr> Arguments) : BoundExpr(Type);

/// <summary>A field of a message's envelope (<c>envelope.signature</c>, <c>HS_SYN.envelope.payload</c>).</summary>
internal sealed record EnvelopeFieldExpr(ExprType Type, string MessageTypeName, string PropertyName, bool IsCurrent, bool MessageMayBeAbsent, bool FieldNullable = false) : BoundExpr(Type);

internal sealed record UnaryExpr(ExprType Type, string Operator, BoundExpr Operand) : BoundExpr(Type);

internal sealed record BinaryExpr(ExprType Type, string Operator, BoundExpr Left, BoundExpr Right) : BoundExpr(Type);

internal sealed record ListExpr(ExprType Type, EquatableArray<BoundExpr> Items) : BoundExpr(Type);
