namespace Dsl.Runtime.Codecs;

/// <summary>What kind of problem made a message undecodable.</summary>
public enum DecodeErrorKind
{
    /// <summary>No error.</summary>
    None,
    /// <summary>The bytes are not well-formed (for JSON: invalid syntax, or not UTF-8).</summary>
    InvalidSyntax,
    /// <summary>The message is not an object.</summary>
    NotAnObject,
    /// <summary>The discriminator field is missing or not a string.</summary>
    MissingDiscriminator,
    /// <summary>The discriminator names no message of this protocol.</summary>
    UnknownMessage,
    /// <summary>A required field is absent.</summary>
    MissingField,
    /// <summary>A field has the wrong type.</summary>
    WrongType,
    /// <summary>A field appears twice.</summary>
    DuplicateField,
    /// <summary>A field's value breaks a constraint of the spec (length, range, pattern, one-of, constant).</summary>
    ConstraintViolated,
    /// <summary>Something follows the end of the message.</summary>
    TrailingData,
}

/// <summary>A typed decode failure that names the message and field at fault.</summary>
/// <param name="Kind">The kind of problem.</param>
/// <param name="Message">The wire name of the message being decoded, when known.</param>
/// <param name="Field">The field at fault, when there is one.</param>
/// <param name="Detail">A human-readable explanation.</param>
public readonly record struct DecodeError(DecodeErrorKind Kind, string? Message, string? Field, string Detail)
{
    /// <summary>A required field is missing.</summary>
    public static DecodeError MissingField(string message, string field)
        => new(DecodeErrorKind.MissingField, message, field, $"Missing required field: {field}");

    /// <summary>A field has the wrong JSON type.</summary>
    public static DecodeError WrongType(string message, string field, string expected)
        => new(DecodeErrorKind.WrongType, message, field, $"Field '{field}' must be {expected}");

    /// <summary>A field appears twice.</summary>
    public static DecodeError DuplicateField(string message, string field)
        => new(DecodeErrorKind.DuplicateField, message, field, $"Field '{field}' appears more than once");

    /// <summary>A field breaks a constraint.</summary>
    public static DecodeError Constraint(string message, string field, string rule)
        => new(DecodeErrorKind.ConstraintViolated, message, field, $"Field '{field}' {rule}");

    /// <inheritdoc />
    public override string ToString() => Detail;
}
