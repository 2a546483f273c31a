using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Language;

namespace Dsl.Generator.Binding;

/// <summary>
/// Which values are key material: the result of a built-in that yields it (HKDF output, an X25519 shared secret), and
/// what keeps it whole (a prefix, a concatenation, a let, either branch of a conditional). A hash, a MAC or a signature
/// of key material is public. An outcome that is key material becomes a <c>SecretBytes</c>, which never prints its value.
/// </summary>
internal static class Secrecy
{
    public static bool IsSecret(BoundExpression expression, IReadOnlyDictionary<string, LetDeclaration> lets)
        => IsSecret(expression, lets, depth: 0);

    private static bool IsSecret(BoundExpression expression, IReadOnlyDictionary<string, LetDeclaration> lets, int depth)
    {
        // Lets refer only to earlier lets, so this ends; the depth is a guard against a binder bug, not a spec.
        if (depth > 64 || expression.Type.Type.Kind != TypeKind.Bytes) return false;
        return expression switch
        {
            BoundCall { Descriptor: BuiltinDescriptor { Secret: SecretRule.Yields } } => true,
            BoundCall { Descriptor: BuiltinDescriptor { Secret: SecretRule.Preserves } } call => call.Arguments.Any(a => IsSecret(a, lets, depth + 1)),
            BoundLet let => lets.Values.FirstOrDefault(l => l.Id == let.LetId)?.Symbol is { } symbol && IsSecret(symbol.Value, lets, depth + 1),
            BoundConditional conditional => IsSecret(conditional.Then, lets, depth + 1) || IsSecret(conditional.Else, lets, depth + 1),
            _ => false,
        };
    }
}
