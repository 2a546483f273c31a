using System.Collections.Generic;
using System.Linq;

namespace Dsl.Generator.Language;

/// <summary>What a parameter accepts: one type, or any type with a capability (<c>text</c>, <c>len</c>).</summary>
internal sealed record ParameterType(TypeRef? Exact, string? Capability)
{
    public static ParameterType Of(TypeRef type) => new(type, null);

    /// <summary>Any type that <c>text()</c> applies to.</summary>
    public static readonly ParameterType WithText = new(null, "text");

    /// <summary>Any type that <c>len()</c> applies to.</summary>
    public static readonly ParameterType WithLength = new(null, "len");

    /// <summary>Any type that <c>abs()</c> applies to.</summary>
    public static readonly ParameterType WithSign = new(null, "abs");

    /// <summary>Any object type the spec declares.</summary>
    public static readonly ParameterType AnyObject = new(null, "object");

    public bool Accepts(TypeRef type) => Exact is { } exact ? Types.Assignable(type, exact) : Has(type.Descriptor);

    private bool Has(ValueTypeDescriptor type) => Capability switch
    {
        "text" => type.HasText,
        "abs" => type.Signed,
        "object" => type.Kind == TypeKind.Object,
        _ => type.HasLength,
    };

    public override string ToString() => Exact?.ToString() ?? string.Join(", ",
        ValueTypes.All.Where(Has).Select(d => d.Kind == TypeKind.List ? "a list" : d.Name));
}

/// <summary>A parameter of a built-in function or a service method.</summary>
internal sealed record Parameter(string Name, ParameterType Type)
{
    public Parameter(string name, TypeRef type) : this(name, ParameterType.Of(type)) { }
}

/// <summary>What the generator can know of the length of a <c>bytes</c> result.</summary>
internal enum ResultLengthRule
{
    /// <summary>The result type as declared.</summary>
    Declared,
    /// <summary><c>bytes&lt;N&gt;</c> when the argument at <see cref="BuiltinDescriptor.LengthArgument"/> is an integer literal N.</summary>
    LiteralArgument,
    /// <summary>The length of the argument at <see cref="BuiltinDescriptor.LengthArgument"/> plus <see cref="BuiltinDescriptor.LengthDelta"/>, when known.</summary>
    ArgumentLength,
    /// <summary>The sum of the arguments' lengths, when every one is known.</summary>
    SumOfArguments,
    /// <summary>The type of the argument at <see cref="BuiltinDescriptor.LengthArgument"/> (<c>abs</c> of an int is an int, of a duration a duration).</summary>
    ArgumentType,
}

/// <summary>
/// A value the generated code passes to a runtime member beside the spec's arguments: the step's clock reading
/// (one read per step), or one of the service's settings. A built-in's come before the spec's arguments; a
/// service method's after them, before the cancellation token.
/// </summary>
internal sealed record ImplicitArgument(ImplicitKind Kind, string? Setting = null)
{
    /// <summary>The step's clock reading.</summary>
    public static readonly ImplicitArgument StepClock = new(ImplicitKind.StepClock);

    /// <summary>The spec's <c>timeouts.clock_skew</c>.</summary>
    public static readonly ImplicitArgument ClockSkew = new(ImplicitKind.ClockSkew);

    /// <summary>The machine's transcript so far.</summary>
    public static readonly ImplicitArgument Transcript = new(ImplicitKind.Transcript);

    /// <summary>The machine's random source (<c>HandshakeOptions.Random</c>).</summary>
    public static readonly ImplicitArgument Random = new(ImplicitKind.Random);

    /// <summary>The step's cancellation token (cancelled by the step timeout); always the last argument.</summary>
    public static readonly ImplicitArgument Cancellation = new(ImplicitKind.Cancellation);

    /// <summary>The service's setting of that name (a value_store's <c>window</c>).</summary>
    public static ImplicitArgument SettingNamed(string name) => new(ImplicitKind.ServiceSetting, name);
}

/// <summary>What an implicit argument is.</summary>
internal enum ImplicitKind { StepClock, ClockSkew, Transcript, ServiceSetting, Cancellation, Random }

/// <summary>
/// What a built-in function and a service method share: a name, parameters, a result, when the result may be
/// absent, the runtime member it calls, and a line of docs.
/// </summary>
internal abstract class CallDescriptor
{
    protected CallDescriptor(string name, Parameter[] parameters, TypeRef result, string runtimeMember, string doc)
    {
        Name = name;
        Parameters = parameters;
        Result = result;
        RuntimeMember = runtimeMember;
        Doc = doc;
    }

    public string Name { get; }

    public IReadOnlyList<Parameter> Parameters { get; }

    public TypeRef Result { get; }

    /// <summary>When the result may be absent, in words; null when it never is.</summary>
    public string? AbsentWhen { get; init; }

    /// <summary>The runtime member the emitter calls.</summary>
    public string RuntimeMember { get; }

    public string Doc { get; }

    public bool MayBeAbsent => AbsentWhen is not null;

    /// <summary>What the runtime member takes beside the spec's arguments.</summary>
    public IReadOnlyList<ImplicitArgument> Implicit { get; init; } = new ImplicitArgument[0];
}

/// <summary>
/// One built-in function: its name, parameters, result, when the result may be absent, the runtime member it
/// calls and its docs. The binder, the emitter, DSL206's list and the docs' table read this one list; adding a
/// function is an entry here, its runtime member in <c>Dsl.Runtime.Expressions.Builtins</c>, and a test.
/// </summary>
internal sealed class BuiltinDescriptor : CallDescriptor
{
    public BuiltinDescriptor(string name, Parameter[] parameters, TypeRef result, string runtimeMember, string doc)
        : base(name, parameters, result, runtimeMember, doc)
    {
    }

    /// <summary>One or more arguments, each of the first parameter's type.</summary>
    public bool Variadic { get; init; }

    /// <summary>Whether the runtime member is the protocol codec's own (generated per declared type), not <c>Builtins</c>'.</summary>
    public bool OnCodec { get; init; }

    /// <summary>Whether its result is key material (a derived key, a shared secret), or is when an argument is.</summary>
    public SecretRule Secret { get; init; }

    /// <summary>
    /// Whether the call proves who made its data (a signature verified, a MAC computed to be compared, an AEAD
    /// opened), and which argument is that data: what the security lints count as binding a message to its sender.
    /// </summary>
    public int? AuthenticatesArgument { get; init; }

    /// <summary>Whether the result spells its argument another way (UTF-8, hex, base64, text): a secret in, a secret out (the security lints read it).</summary>
    public bool Encodes { get; init; }

    /// <summary>Which argument is a key (MAC, AEAD, HKDF input keying material): what the low-entropy lint follows.</summary>
    public int? KeyArgument { get; init; }

    public ResultLengthRule LengthRule { get; init; }
    public int LengthArgument { get; init; }
    public int LengthDelta { get; init; }


    /// <summary>The result as the docs' table writes it.</summary>
    public string ResultDoc
    {
        get
        {
            var text = "`" + Result + "`";
            text += LengthRule switch
            {
                ResultLengthRule.LiteralArgument => $" (`bytes<{Parameters[LengthArgument].Name}>` when a literal)",
                ResultLengthRule.ArgumentLength => $" ({Parameters[LengthArgument].Name} length {(LengthDelta < 0 ? "- " + (-LengthDelta) : "+ " + LengthDelta)} when known)",
                ResultLengthRule.SumOfArguments => " (known length when every part has one)",
                ResultLengthRule.ArgumentType => $" (the type of `{Parameters[LengthArgument].Name}`)",
                _ => "",
            };
            return AbsentWhen is null ? text : $"{text}, **absent** {AbsentWhen}";
        }
    }

    /// <summary>The parameters as the docs' table writes them.</summary>
    public string ParametersDoc
        => Parameters.Count == 0 ? "none"
           : Variadic ? $"one or more `{Parameters[0].Type}`"
           : string.Join(", ", Parameters.Select(p => p.Type.Exact is null ? p.Type.ToString() : "`" + p.Type + "`"));

    /// <summary>The call as the docs' table writes it: <c>hkdf_sha256(ikm, salt, info, length)</c>.</summary>
    public string Signature => Variadic ? $"{Name}(a, b, ...)" : $"{Name}({string.Join(", ", Parameters.Select(p => p.Name))})";
}

/// <summary>How a built-in's result relates to key material: an outcome holding key material is a <c>SecretBytes</c>.</summary>
internal enum SecretRule
{
    /// <summary>Its result is public even from secret arguments (a hash, a MAC, a signature).</summary>
    None,
    /// <summary>Its result is key material (HKDF output, an X25519 shared secret).</summary>
    Yields,
    /// <summary>Its result is key material when an argument is (a prefix, a concatenation).</summary>
    Preserves,
}

/// <summary>Every built-in function of the language, in one list.</summary>
internal static class Builtins
{
    private static readonly TypeRef Key32 = TypeRef.BytesOf(32), Nonce12 = TypeRef.BytesOf(12), Signature64 = TypeRef.BytesOf(64);
    private static readonly TypeRef Ed25519Key = new(TypeKind.Ed25519Key), X25519Key = new(TypeKind.X25519Key);

    private static Parameter P(string name, TypeRef type) => new(name, type);

    public static readonly IReadOnlyList<BuiltinDescriptor> All = new[]
    {
        new BuiltinDescriptor("uuid4", new Parameter[0], TypeRef.Uuid, "Uuid4",
            "A random version-4 UUID from the cryptographic random number generator (`HandshakeOptions.Random`).") { Implicit = new[] { ImplicitArgument.Random } },
        new BuiltinDescriptor("now", new Parameter[0], TypeRef.Timestamp, "Now",
            "The current time in whole seconds (the precision timestamps have on the wire), from `HandshakeOptions.TimeProvider`; read once per step, so every `now()` of a step agrees.")
        { Implicit = new[] { ImplicitArgument.StepClock } },
        new BuiltinDescriptor("unix", new[] { P("time", TypeRef.Timestamp) }, TypeRef.Int, "Unix", "Seconds since the Unix epoch."),
        new BuiltinDescriptor("unix_ms", new[] { P("time", TypeRef.Timestamp) }, TypeRef.Int, "UnixMs", "Milliseconds since the Unix epoch."),
        new BuiltinDescriptor("abs", new[] { new Parameter("value", ParameterType.WithSign) }, TypeRef.Int, "Abs",
            "The absolute value of an `int` or a `duration`, of the same type (saturating: the most negative gives the largest).") { LengthRule = ResultLengthRule.ArgumentType },
        new BuiltinDescriptor("fresh", new[] { P("time", TypeRef.Timestamp) }, TypeRef.Bool, "Fresh",
            "Whether the timestamp is within the spec's `timeouts.clock_skew` of `now()`, earlier or later; a spec without `clock_skew` cannot call it.")
        { Implicit = new[] { ImplicitArgument.StepClock, ImplicitArgument.ClockSkew } },
        new BuiltinDescriptor("seconds", new[] { P("duration", TypeRef.Duration) }, TypeRef.Int, "Seconds", "Whole seconds, truncated toward zero."),
        new BuiltinDescriptor("milliseconds", new[] { P("duration", TypeRef.Duration) }, TypeRef.Int, "Milliseconds", "Whole milliseconds, truncated toward zero."),
        new BuiltinDescriptor("text", new[] { new Parameter("value", ParameterType.WithText) }, TypeRef.String, "Text",
            "The value as text: an `int` in decimal, a `bool` as `true`/`false`, a `uuid` in lower-case `8-4-4-4-12` form, a `timestamp` as Unix seconds, `bytes` as lower-case hex.") { Encodes = true },
        new BuiltinDescriptor("len", new[] { new Parameter("value", ParameterType.WithLength) }, TypeRef.Int, "Len",
            "A string's length in UTF-16 code units (as `max_length` counts), a list's number of items, or a number of bytes."),
        new BuiltinDescriptor("random", new[] { P("count", TypeRef.Int) }, TypeRef.Bytes, "Random",
            "`count` bytes from the cryptographic random number generator (`HandshakeOptions.Random`).") { LengthRule = ResultLengthRule.LiteralArgument, Implicit = new[] { ImplicitArgument.Random } },
        new BuiltinDescriptor("utf8", new[] { P("text", TypeRef.String) }, TypeRef.Bytes, "Utf8", "The UTF-8 encoding of the text.") { Encodes = true },
        new BuiltinDescriptor("hex", new[] { P("data", TypeRef.Bytes) }, TypeRef.String, "Hex", "Lower-case hex.") { Encodes = true },
        new BuiltinDescriptor("base64", new[] { P("data", TypeRef.Bytes) }, TypeRef.String, "Base64", "Standard base64 with padding.") { Encodes = true },
        new BuiltinDescriptor("unhex", new[] { P("text", TypeRef.String) }, TypeRef.Bytes, "Unhex",
            "The bytes written in hex (either case).") { AbsentWhen = "when the text is not hex (an odd length or another character)", Encodes = true },
        new BuiltinDescriptor("unbase64", new[] { P("text", TypeRef.String) }, TypeRef.Bytes, "Unbase64",
            "The bytes written in standard base64 with padding.") { AbsentWhen = "when the text is not base64", Encodes = true },
        new BuiltinDescriptor("concat", new[] { P("parts", TypeRef.Bytes) }, TypeRef.Bytes, "Concat",
            "The parts, one after the other.") { Variadic = true, LengthRule = ResultLengthRule.SumOfArguments, Secret = SecretRule.Preserves },
        new BuiltinDescriptor("take", new[] { P("data", TypeRef.Bytes), P("count", TypeRef.Int) }, TypeRef.Bytes, "Take",
            "The first `count` bytes; fewer available is a runtime error (`internal_error`).") { LengthRule = ResultLengthRule.LiteralArgument, LengthArgument = 1, Secret = SecretRule.Preserves },
        new BuiltinDescriptor("sha256", new[] { P("data", TypeRef.Bytes) }, Key32, "Sha256", "SHA-256."),
        new BuiltinDescriptor("hmac_sha256", new[] { P("key", TypeRef.Bytes), P("data", TypeRef.Bytes) }, Key32, "HmacSha256", "HMAC-SHA256.") { AuthenticatesArgument = 1, KeyArgument = 0 },
        new BuiltinDescriptor("hkdf_sha256", new[] { P("ikm", TypeRef.Bytes), P("salt", TypeRef.Bytes), P("info", TypeRef.Bytes), P("length", TypeRef.Int) }, TypeRef.Bytes, "HkdfSha256",
            "HKDF-SHA256 (RFC 5869), extract and expand.") { LengthRule = ResultLengthRule.LiteralArgument, LengthArgument = 3, Secret = SecretRule.Yields, KeyArgument = 0 },
        new BuiltinDescriptor("chacha20_seal", new[] { P("key", Key32), P("nonce", Nonce12), P("plaintext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes, "Chacha20Seal",
            "ChaCha20-Poly1305: the ciphertext followed by the 16-byte tag.") { LengthRule = ResultLengthRule.ArgumentLength, LengthArgument = 2, LengthDelta = 16, KeyArgument = 0 },
        new BuiltinDescriptor("chacha20_open", new[] { P("key", Key32), P("nonce", Nonce12), P("ciphertext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes, "Chacha20Open",
            "ChaCha20-Poly1305 decryption.") { AuthenticatesArgument = 2, AbsentWhen = "when not authentic", LengthRule = ResultLengthRule.ArgumentLength, LengthArgument = 2, LengthDelta = -16, KeyArgument = 0 },
        new BuiltinDescriptor("aes256gcm_seal", new[] { P("key", Key32), P("nonce", Nonce12), P("plaintext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes, "Aes256gcmSeal",
            "AES-256-GCM: the ciphertext followed by the 16-byte tag.") { LengthRule = ResultLengthRule.ArgumentLength, LengthArgument = 2, LengthDelta = 16, KeyArgument = 0 },
        new BuiltinDescriptor("aes256gcm_open", new[] { P("key", Key32), P("nonce", Nonce12), P("ciphertext", TypeRef.Bytes), P("aad", TypeRef.Bytes) }, TypeRef.Bytes, "Aes256gcmOpen",
            "AES-256-GCM decryption.") { AuthenticatesArgument = 2, AbsentWhen = "when not authentic", LengthRule = ResultLengthRule.ArgumentLength, LengthArgument = 2, LengthDelta = -16, KeyArgument = 0 },
        new BuiltinDescriptor("ed25519_public", new[] { P("key", Ed25519Key) }, Key32, "Ed25519Public", "The key pair's public key."),
        new BuiltinDescriptor("ed25519_sign", new[] { P("key", Ed25519Key), P("data", TypeRef.Bytes) }, Signature64, "Ed25519Sign", "An Ed25519 signature."),
        new BuiltinDescriptor("ed25519_verify", new[] { P("public_key", Key32), P("data", TypeRef.Bytes), P("signature", Signature64) }, TypeRef.Bool, "Ed25519Verify",
            "Whether the signature is valid; `false` for any malformed input.") { AuthenticatesArgument = 1 },
        new BuiltinDescriptor("x25519_public", new[] { P("key", X25519Key) }, Key32, "X25519Public", "The key pair's public key."),
        new BuiltinDescriptor("x25519_keypair", new Parameter[0], X25519Key, "X25519Keypair",
            "A fresh ephemeral X25519 key pair, for a `let`; its private key is wiped when the step that made it ends, or, when later steps use it, when the handshake ends.") { Implicit = new[] { ImplicitArgument.Random } },
        new BuiltinDescriptor("transcript", new Parameter[0], Key32, "Transcript",
            "A hash of the messages exchanged before the current step's own, each as canonical JSON: T₀ is 32 zero bytes, Tₙ = SHA-256(Tₙ₋₁ ‖ SHA-256(messageₙ)). Both roles compute the same value at the same step, for key confirmation and transcript MACs.")
        { Implicit = new[] { ImplicitArgument.Transcript } },
        new BuiltinDescriptor("canonical_json", new[] { new Parameter("value", ParameterType.AnyObject) }, TypeRef.Bytes, "CanonicalJson",
            "The RFC 8785 canonical JSON of an object value, as it travels (a message's own is `MESSAGE.envelope.payload` in a spec with an envelope).") { OnCodec = true },
        new BuiltinDescriptor("pow_solve", new[] { P("challenge", TypeRef.Bytes), P("difficulty", TypeRef.Int) }, TypeRef.BytesOf(8), "PowSolve",
            "Hashcash: an 8-byte nonce such that SHA-256(challenge ‖ nonce) starts with `difficulty` zero bits (0 to 64; about 2^difficulty hashes). It stops, and the step fails with `step_timeout`, when the step timeout passes.")
        { Implicit = new[] { ImplicitArgument.Random, ImplicitArgument.Cancellation } },
        new BuiltinDescriptor("pow_check", new[] { P("challenge", TypeRef.Bytes), P("nonce", TypeRef.Bytes), P("difficulty", TypeRef.Int) }, TypeRef.Bool, "PowCheck",
            "Whether SHA-256(challenge ‖ nonce) starts with `difficulty` zero bits; `false` for a difficulty outside 0 to 64. One hash: check it before anything expensive."),
        new BuiltinDescriptor("merkle_root", new[] { P("leaves", TypeRef.ListOf(TypeKind.Bytes)), P("salt", TypeRef.Bytes) }, Key32, "MerkleRoot",
            "The RFC 6962-shaped Merkle root over SHA-256: leaf = SHA-256(0x00 ‖ salt ‖ leaf), node = SHA-256(0x01 ‖ left ‖ right), split at the largest power of two below the count, so an odd leaf is carried up, never duplicated (no CVE-2012-2459 collisions); no leaves: SHA-256(0x02 ‖ salt)."),
        new BuiltinDescriptor("chunks", new[] { P("data", TypeRef.Bytes), P("size", TypeRef.Int) }, TypeRef.ListOf(TypeKind.Bytes), "Chunks",
            "The data cut into pieces of `size` bytes (the last one shorter); a size below 1 is a runtime error (`internal_error`)."),
        new BuiltinDescriptor("intersect", new[] { P("a", TypeRef.ListOf(TypeKind.String)), P("b", TypeRef.ListOf(TypeKind.String)) }, TypeRef.ListOf(TypeKind.String), "Intersect",
            "The items of `a` that `b` holds too, in `a`'s order, each once: what two capability lists have in common."),
        new BuiltinDescriptor("contains", new[] { P("list", TypeRef.ListOf(TypeKind.String)), P("item", TypeRef.String) }, TypeRef.Bool, "Contains",
            "Whether the list holds the item, compared exactly."),
        new BuiltinDescriptor("ratio", new[] { P("part", TypeRef.Int), P("whole", TypeRef.Int) }, TypeRef.Decimal, "Ratio",
            "`part` / `whole` as a `decimal` rounded to 4 places (half to even); 0 when `whole` is not positive."),
        new BuiltinDescriptor("x25519_agree", new[] { P("key", X25519Key), P("peer_public_key", Key32) }, Key32, "X25519Agree",
            "The X25519 shared secret; check it (`ensure: [shared != null else CODE]`) and derive keys from it with `hkdf_sha256`, never use it directly.")
        { AbsentWhen = "for a low-order peer key (the all-zero secret)", Secret = SecretRule.Yields },
    };

    private static readonly Dictionary<string, BuiltinDescriptor> s_byName = All.ToDictionary(f => f.Name);

    public static BuiltinDescriptor? Find(string name) => s_byName.TryGetValue(name, out var function) ? function : null;

    /// <summary>The names, sorted, for DSL206.</summary>
    public static string Names => string.Join(", ", All.Select(f => f.Name).OrderBy(n => n, System.StringComparer.Ordinal));
}

/// <summary>Type rules shared by the binder and the descriptors.</summary>
internal static class Types
{
    /// <summary>Whether a value of <paramref name="actual"/> fits where <paramref name="expected"/> is wanted.</summary>
    public static bool Assignable(TypeRef actual, TypeRef expected)
    {
        if (actual == expected || actual.Kind == TypeKind.Null) return true;
        // Bytes of unknown length fit any bytes; known lengths must agree (the peer's decoder checks the rest).
        if (actual.Kind == TypeKind.Bytes && expected.Kind == TypeKind.Bytes)
            return actual.Length == 0 || expected.Length == 0 || actual.Length == expected.Length;
        // [] has no element type and fits any list.
        return actual.Kind == TypeKind.List && expected.Kind == TypeKind.List && actual.Element == TypeKind.Null;
    }
}
