using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;
using Dsl.Runtime.Codecs;
using Dsl.Runtime.Cryptography;
using Dsl.Runtime.Handshakes;
using Dsl.Runtime.Services;

namespace Dsl.Cli.Running;

/// <summary>
/// Makes a role's machine with inputs a run can do without: each input derived from the run's seed and its name (so an
/// input both roles share by name, a pre-shared secret, gets one value), each key pair from the seed and its role, a
/// 32-byte input named <c>*_key</c> the public half of the other role's Ed25519 key, services in memory, and hooks that
/// say yes to a yes-or-no question and nothing to any other (<see cref="HookAnswers"/>). A spec whose inputs relate
/// otherwise fails the way its spec says; <c>--input</c> gives values.
/// </summary>
internal sealed class Peers(int seed, IReadOnlyDictionary<string, string> given)
{
    private readonly Dictionary<string, object> _services = new(StringComparer.Ordinal);

    /// <summary>The instant a timestamp input is made from (a run's fixed clock reads it too).</summary>
    public DateTimeOffset Now { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Whether each role keeps its stores from one machine to the next (a second run sees what the first stored).</summary>
    public bool KeepStores { get; init; }

    /// <summary>With <see cref="KeepStores"/>: the roles that keep theirs (null: every role); the others start each run empty.</summary>
    public IReadOnlySet<string>? KeepStoresOf { get; init; }

    /// <summary>Every input each role was given, as text (the form <c>--input</c> takes), by <c>ROLE.NAME</c>.</summary>
    public SortedDictionary<string, string> Chosen { get; } = new(StringComparer.Ordinal);

    /// <summary>The machine of <paramref name="role"/> in <paramref name="spec"/>, and what could not be made (null when all could).</summary>
    public object? Create(GeneratedSpec spec, string role, HandshakeOptions? options, out string? problem)
    {
        problem = null;
        var type = spec.Machine(role);
        var constructor = type.GetConstructors().Single();
        var arguments = new List<object?>();
        foreach (var parameter in constructor.GetParameters())
        {
            if (parameter.ParameterType == typeof(HandshakeOptions)) arguments.Add(options);
            else if (parameter.Name == "inputs") arguments.Add(Inputs(spec, role, parameter.ParameterType, ref problem));
            else if (parameter.Name == "services") arguments.Add(KeepStores && (KeepStoresOf?.Contains(role) ?? true) && _services.TryGetValue(role, out var kept) ? kept : _services[role] = Services(parameter.ParameterType));
            else if (parameter.Name == "hooks") arguments.Add(HookAnswers.Create(parameter.ParameterType));
            else
            {
                problem = $"the {role}'s machine takes a {parameter.ParameterType.Name} the run cannot make";
                return null;
            }
        }
        if (problem is not null) return null;
        try
        {
            return constructor.Invoke(arguments.ToArray());
        }
        catch (TargetInvocationException ex) when (ex.InnerException is ArgumentException refused)
        {
            // The machine checks its inputs against the spec's constraints.
            problem = $"the {role}'s inputs: {refused.Message.Replace(" (Parameter 'inputs')", "")}; give the input with --input {role}.NAME=VALUE";
            return null;
        }
    }

    private object Inputs(GeneratedSpec spec, string role, Type type, ref string? problem)
    {
        var protocol = spec.Model.Protocol;
        var symbol = protocol.Roles.First(r => r.Name == role);
        var inputs = Activator.CreateInstance(type)!;
        foreach (var input in symbol.Inputs)
        {
            var property = type.GetProperty(Naming.Pascal(input.Name))!;
            var key = role + "." + input.Name;
            var text = given.TryGetValue(key, out var written) ? written : input.Optional ? null : Make(protocol, role, input);
            if (text is null)
            {
                if (!input.Optional) problem ??= $"cannot make input '{key}' ({Spell(input.Type)}); give it with --input {key}=VALUE";
                continue;
            }
            object? value;
            try
            {
                value = Parse(text, input.Type);
            }
            catch (FormatException)
            {
                value = null;
            }
            if (value is null)
            {
                problem ??= $"input '{key}' ({Spell(input.Type)}) cannot be '{text}'";
                continue;
            }
            Chosen[key] = text;
            property.SetValue(inputs, value);
        }
        return inputs;
    }

    /// <summary>A made-up value for an input, as text.</summary>
    private string? Make(BoundProtocol protocol, string role, FieldSymbol input)
    {
        var type = input.Type;
        var constraints = input.Constraints;
        switch (type.Kind)
        {
            case TypeKind.String:
                if (!constraints.OneOf.IsEmpty) return constraints.OneOf[0];
                var text = input.Name.Replace('_', '-') + "-" + seed.ToString(CultureInfo.InvariantCulture);
                if (constraints.MaxLength is { } max && text.Length > max) text = text.Substring(0, (int)max);
                if (constraints.MinLength is { } min && text.Length < min) text = text.PadRight((int)min, 'x');
                if (constraints.Pattern is { } pattern)
                {
                    // A few shapes patterns often ask for; else the machine refuses the input and says so.
                    var hex = Convert.ToHexString(Derive("text " + input.Name, 64)).ToLowerInvariant();
                    var candidates = new[] { text, hex.Substring(0, 64), hex.Substring(0, 32), hex.Substring(0, 40), hex, "1", input.Name };
                    return candidates.FirstOrDefault(c => System.Text.RegularExpressions.Regex.IsMatch(c, "^(?:" + pattern + ")$")) ?? text;
                }
                return text;
            case TypeKind.Int:
                return Math.Clamp(1L, constraints.Min ?? long.MinValue, constraints.Max ?? long.MaxValue).ToString(CultureInfo.InvariantCulture);
            case TypeKind.Decimal:
                return "1";
            case TypeKind.Bool:
                return "true";
            case TypeKind.Uuid:
                return new Guid(Derive("uuid " + input.Name, 16)).ToString();
            case TypeKind.Timestamp:
                return Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            case TypeKind.Bytes when type.Length == Ed25519.PublicKeySize && input.Name.EndsWith("_key", StringComparison.Ordinal)
                                     && OtherSigner(protocol, role) is { } signer:
                // The key of the peer's identity: the other role's Ed25519 key, as this run makes it.
                using (var key = Ed25519.Instance.ImportSeed(Derive("ed25519 " + signer.Role + "." + signer.Input, Ed25519.SeedSize)))
                    return Convert.ToHexString(key.PublicKey).ToLowerInvariant();
            case TypeKind.Bytes:
                return Hex(Derive("bytes " + input.Name, type.Length > 0 ? type.Length : 32));
            case TypeKind.Ed25519Key:
                return Hex(Derive("ed25519 " + role + "." + input.Name, Ed25519.SeedSize));
            case TypeKind.X25519Key:
                return Hex(Derive("x25519 " + role + "." + input.Name, 32));
            case TypeKind.List when type.Element == TypeKind.String:
                return input.Name.Replace('_', '-');
            case TypeKind.List when type.Element == TypeKind.Bytes:
                return Hex(Derive("list " + input.Name, 32));
            default:
                return null;
        }
    }

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    /// <summary>The other role's only Ed25519 key input, if it has exactly one.</summary>
    private static (string Role, string Input)? OtherSigner(BoundProtocol protocol, string role)
    {
        var keys = protocol.Roles.Where(r => r.Name != role)
            .SelectMany(r => r.Inputs.Where(i => i.Type.Kind == TypeKind.Ed25519Key).Select(i => (r.Name, i.Name))).ToList();
        return keys.Count == 1 ? keys[0] : null;
    }

    /// <summary>An input's value from its text: bytes and keys in hex (a key pair's private seed), lists comma-separated, timestamps in Unix seconds.</summary>
    private static object? Parse(string text, TypeRef type) => type.Kind switch
    {
        TypeKind.String => text,
        TypeKind.Int => long.Parse(text, CultureInfo.InvariantCulture),
        TypeKind.Decimal => decimal.Parse(text, CultureInfo.InvariantCulture),
        TypeKind.Bool => bool.Parse(text),
        TypeKind.Uuid => Guid.Parse(text),
        TypeKind.Timestamp => DateTimeOffset.FromUnixTimeSeconds(long.Parse(text, CultureInfo.InvariantCulture)),
        TypeKind.Bytes => new Bytes(Convert.FromHexString(text)),
        TypeKind.Ed25519Key => Ed25519.Instance.ImportSeed(Convert.FromHexString(text)),
        TypeKind.X25519Key => X25519.Instance.ImportPrivateKey(Convert.FromHexString(text)),
        TypeKind.List when type.Element == TypeKind.String => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
        TypeKind.List when type.Element == TypeKind.Bytes => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(h => new Bytes(Convert.FromHexString(h))).ToArray(),
        _ => null,
    };

    private static string Spell(TypeRef type) => type.Kind == TypeKind.List ? $"list<{type.Element.ToString().ToLowerInvariant()}>" : type.Name ?? type.Kind.ToString().ToLowerInvariant();

    private byte[] Derive(string label, int length)
    {
        var output = new byte[length];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes("dsl run " + seed.ToString(CultureInfo.InvariantCulture)), output, salt: [], info: Encoding.UTF8.GetBytes(label));
        return output;
    }

    private static object Services(Type type)
    {
        var services = Activator.CreateInstance(type)!;
        foreach (var property in type.GetProperties().Where(p => p.CanWrite))
            property.SetValue(services, Store(property.PropertyType));
        return services;
    }

    /// <summary>A store of the service's kind, in memory.</summary>
    private static object Store(Type service)
    {
        if (service.IsGenericType && service.GetGenericTypeDefinition() == typeof(IValueStore<>))
            return Activator.CreateInstance(typeof(InMemoryValueStore<>).MakeGenericType(service.GetGenericArguments()))!;
        if (service == typeof(IThreadStore)) return new InMemoryThreadStore();
        if (service == typeof(IPinnedKeyStore)) return new InMemoryPinnedKeyStore();
        if (service == typeof(ITrustStore)) return new InMemoryTrustStore();
        if (service == typeof(IReplayCache)) return new InMemoryReplayCache();
        if (service == typeof(IAddressBlockList)) return new InMemoryAddressBlockList();
        throw new NotSupportedException($"No in-memory store for {service.Name}.");
    }
}

/// <summary>
/// Hooks that say yes where the answer is yes or no (<see langword="true"/>), and nothing otherwise (<see langword="null"/>
/// or the type's default): a run gets as far as the application's consent can take it without the application's data.
/// </summary>
public class HookAnswers : DispatchProxy
{
    internal static object Create(Type hooks)
        => typeof(DispatchProxy).GetMethod(nameof(DispatchProxy.Create), 2, Type.EmptyTypes)!.MakeGenericMethod(hooks, typeof(HookAnswers)).Invoke(null, null)!;

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var returns = targetMethod!.ReturnType;
        if (returns == typeof(ValueTask)) return default(ValueTask);
        if (returns == typeof(ValueTask<bool>)) return new ValueTask<bool>(true);
        // A default ValueTask<T> is completed, with T's default: null or zero.
        return returns.IsValueType ? Activator.CreateInstance(returns) : null;
    }
}
