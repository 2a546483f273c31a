using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Dsl.Generator.Language;

/// <summary>
/// How the spec's names become C# names, in one place: the binder uses it to report names that would
/// collide (DSL112), the emitter to write them.
/// </summary>
internal static class Naming
{
    /// <summary>handshake_init → HandshakeInit; MALFORMED_HANDSHAKE → MalformedHandshake.</summary>
    public static string Pascal(string name)
    {
        var result = new StringBuilder(name.Length);
        var upper = true;
        var allCaps = name.ToUpperInvariant() == name;
        foreach (var c in name)
        {
            if (c == '_' || c == '-' || c == '.')
            {
                upper = true;
                continue;
            }
            result.Append(upper ? char.ToUpperInvariant(c) : allCaps ? char.ToLowerInvariant(c) : c);
            upper = false;
        }
        return result.ToString();
    }

    /// <summary>handshake_init → handshakeInit.</summary>
    public static string Camel(string name)
    {
        var pascal = Pascal(name);
        return pascal.Length == 0 ? pascal : char.ToLowerInvariant(pascal[0]) + pascal.Substring(1);
    }

    /// <summary>The generated types of a protocol whose C# prefix is <paramref name="prefix"/>, for its roles.</summary>
    public static IEnumerable<string> GeneratedTypes(string prefix, IEnumerable<string> roles)
    {
        yield return MessageBase(prefix);
        yield return Codec(prefix);
        yield return ErrorCodes(prefix);
        foreach (var role in roles)
        {
            var names = RoleTypes(prefix, role);
            yield return names.Machine;
            yield return names.Inputs;
            yield return names.Services;
            yield return names.Result;
            yield return names.State;
            yield return names.Hooks;
        }
    }

    /// <summary>The C# names of the types generated for one role.</summary>
    public static RoleTypeNames RoleTypes(string prefix, string role) => new(Machine(prefix, role));

    /// <summary>
    /// Members every generated record (and class) has from <c>object</c> or from being a record: a field, input,
    /// service, outcome value or error code may not take their C# names.
    /// </summary>
    public static readonly string[] ObjectMembers =
        { "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "Finalize", "ReferenceEquals", "Clone", "PrintMembers", "EqualityContract", "Deconstruct" };

    /// <summary>Members every generated message record has; a field may not take their C# names.</summary>
    public static readonly string[] MessageMembers = ObjectMembers.Concat(new[] { "MessageType", "WireName", "Envelope" }).ToArray();

    /// <summary>The envelope record's property that holds the canonical bytes of the message it seals.</summary>
    public const string EnvelopePayload = "Payload";

    /// <summary>The envelope record's property that holds its canonical JSON without its signature fields (an envelope that signs itself).</summary>
    public const string EnvelopeUnsigned = "Unsigned";

    /// <summary>The spec's name for those bytes: <c>unsigned</c> in the envelope's set, <c>envelope.unsigned</c> in checks.</summary>
    public const string UnsignedName = "unsigned";

    /// <summary>Members every generated envelope record has; a field of the envelope may not take their C# names.</summary>
    public static readonly string[] EnvelopeMembers = ObjectMembers.Concat(new[] { EnvelopePayload, EnvelopeUnsigned }).ToArray();

    public static string MessageBase(string prefix) => prefix + "Message";

    /// <summary>The C# name of a declared object or enum type: <c>burn_proof</c> → <c>BurnProof</c>.</summary>
    public static string DeclaredType(string name) => Pascal(name);

    /// <summary>The C# name of an enum's value: <c>open_weight</c> → <c>OpenWeight</c>, <c>resonance-sync</c> → <c>ResonanceSync</c>.</summary>
    public static string EnumMember(string value) => Pascal(value);

    public static string Codec(string prefix) => prefix + "Codec";

    public static string ErrorCodes(string prefix) => prefix + "ErrorCodes";

    public static string Machine(string prefix, string role) => prefix + Pascal(role);

    /// <summary>Reserved C# keywords, which no identifier may be (contextual ones, such as <c>record</c>, may).</summary>
    public static bool IsReservedKeyword(string name)
        => Microsoft.CodeAnalysis.CSharp.SyntaxFacts.GetKeywordKind(name) != Microsoft.CodeAnalysis.CSharp.SyntaxKind.None || name == "global";
}

/// <summary>The C# names of the types generated for one role: the machine and the records and enum beside it.</summary>
internal sealed record RoleTypeNames(string Machine)
{
    public string Inputs => Machine + "Inputs";

    public string Services => Machine + "Services";

    public string Result => Machine + "Result";

    public string State => Machine + "State";

    /// <summary>The interface of the role's hooks, which the application implements.</summary>
    public string Hooks => "I" + Machine + "Hooks";
}
