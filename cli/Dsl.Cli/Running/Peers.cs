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

    /// <summary>The hooks' answers given, as JSON, by <c>ROLE.HOOK</c>; the others answer as <see cref="HookAnswers"/> says.</summary>
    public IReadOnlyDictionary<string, string> HookAnswersGiven { get; init; } = new Dictionary<string, string>();

    private Dictionary<string, string> Hooks(string role)
        => HookAnswersGiven.Where(h => h.Key.StartsWith(role + ".", StringComparison.Ordinal)).ToDictionary(h => h.Key.Substring(role.Length + 1), h => h.Value, StringComparer.Ordinal);

    /// <summary>What each store a role gets is wrapped in (an observer of its writes), given the role, the service's property, its interface and the store; the store itself when null.</summary>
    public Func<string, string, Type, object, object>? WrapStore { get; init; }

    /// <summary>The inputs given, as text, by <c>ROLE.NAME</c> (the others made up); a later run may be given others.</summary>
    public IReadOnlyDictionary<string, string> Given { get; set; } = given;

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
            else if (parameter.Name == "services") arguments.Add(KeepStores && (KeepStoresOf?.Contains(role) ?? true) && _services.TryGetValue(role, out var kept) ? kept : _services[role] = Services(role, parameter.ParameterType));
            else if (parameter.Name == "hooks")
            {
                try
                {
                    arguments.Add(HookAnswers.Create(parameter.ParameterType, Hooks(role)));
                }
                catch (FormatException refused)
                {
                    problem = $"the {role}'s {refused.Message}";
                    return null;
                }
            }
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
        foreach (var stale in Chosen.Keys.Where(k => k.StartsWith(role + ".", StringComparison.Ordinal)).ToList()) Chosen.Remove(stale);
        foreach (var input in symbol.Inputs)
        {
            var property = type.GetProperty(Naming.Pascal(input.Name))!;
            var key = role + "." + input.Name;
            var text = Given.TryGetValue(key, out var written) ? written : input.Optional ? null : Make(protocol, role, input);
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

    private object Services(string role, Type type)
    {
        var services = Activator.CreateInstance(type)!;
        foreach (var property in type.GetProperties().Where(p => p.CanWrite))
        {
            var store = Store(property.PropertyType);
            property.SetValue(services, WrapStore is null ? store : WrapStore(role, property.Name, property.PropertyType, store));
        }
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
/// A role's hooks as a run answers them: the answer given for the hook (<c>--hook ROLE.HOOK=JSON</c>) when there is one;
/// otherwise yes where the answer is yes or no (<see langword="true"/>), and nothing otherwise (<see langword="null"/> or
/// the type's default): a run gets as far as the application's consent can take it without the application's data.
/// </summary>
public class HookAnswers : DispatchProxy
{
    private IReadOnlyDictionary<string, object?> _answers = new Dictionary<string, object?>();

    /// <summary>Hooks of the interface <paramref name="hooks"/> answering with <paramref name="given"/> (JSON, by hook name).</summary>
    internal static object Create(Type hooks, IReadOnlyDictionary<string, string> given)
    {
        var proxy = typeof(DispatchProxy).GetMethod(nameof(DispatchProxy.Create), 2, Type.EmptyTypes)!.MakeGenericMethod(hooks, typeof(HookAnswers)).Invoke(null, null)!;
        var answers = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var method in hooks.GetMethods())
        {
            var hook = given.Keys.FirstOrDefault(name => Naming.Pascal(name) + "Async" == method.Name);
            if (hook is null) continue;
            var returns = method.ReturnType.IsGenericType ? method.ReturnType.GetGenericArguments()[0] : typeof(void);
            answers[method.Name] = HookAnswer.Parse(given[hook], returns, hook);
        }
        ((HookAnswers)proxy)._answers = answers;
        return proxy;
    }

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var returns = targetMethod!.ReturnType;
        if (returns == typeof(ValueTask)) return default(ValueTask);
        if (_answers.TryGetValue(targetMethod.Name, out var answer))
            // Nothing for an answer: a default ValueTask<T> is completed with null.
            return answer is null ? Activator.CreateInstance(returns) : Activator.CreateInstance(returns, answer);
        if (returns == typeof(ValueTask<bool>)) return new ValueTask<bool>(true);
        // A default ValueTask<T> is completed, with T's default: null or zero.
        return returns.IsValueType ? Activator.CreateInstance(returns) : null;
    }
}

/// <summary>A hook's answer from JSON: bytes in hex, enums by their wire text, objects member by member (snake_case names).</summary>
internal static class HookAnswer
{
    /// <summary>The answer as <paramref name="type"/>; a <see cref="FormatException"/> naming <paramref name="hook"/> when it cannot be.</summary>
    public static object? Parse(string json, Type type, string hook)
    {
        System.Text.Json.Nodes.JsonNode? node;
        try
        {
            node = System.Text.Json.Nodes.JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new FormatException($"hook '{hook}': the answer is not JSON ({ex.Message})");
        }
        return Convert(node, type, hook);
    }

    private static object? Convert(System.Text.Json.Nodes.JsonNode? node, Type type, string path)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (node is null)
            return !type.IsValueType || underlying != type ? null : throw new FormatException($"hook answer '{path}' cannot be null");
        try
        {
            if (underlying == typeof(bool)) return node.GetValue<bool>();
            if (underlying == typeof(long)) return node.GetValue<long>();
            if (underlying == typeof(int)) return node.GetValue<int>();
            if (underlying == typeof(decimal)) return node.GetValue<decimal>();
            if (underlying == typeof(string)) return node.GetValue<string>();
            if (underlying == typeof(Guid)) return Guid.Parse(node.GetValue<string>());
            if (underlying == typeof(DateTimeOffset)) return DateTimeOffset.FromUnixTimeSeconds(node.GetValue<long>());
            if (underlying == typeof(Bytes)) return new Bytes(System.Convert.FromHexString(node.GetValue<string>()));
            if (underlying.IsEnum) return Enum.Parse(underlying, Naming.Pascal(node.GetValue<string>()));
            if (underlying.IsArray)
                return ToArray(node.AsArray().Select((item, i) => Convert(item, underlying.GetElementType()!, $"{path}[{i}]")).ToList(), underlying.GetElementType()!);
            if (underlying.IsClass)
            {
                var value = Activator.CreateInstance(underlying)!;
                foreach (var (name, member) in node.AsObject())
                {
                    var property = underlying.GetProperty(Naming.Pascal(name)) ?? throw new HookFormatException($"hook answer '{path}' has no member '{name}'");
                    property.SetValue(value, Convert(member, property.PropertyType, path + "." + name));
                }
                return value;
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException and not HookFormatException)
        {
            throw new HookFormatException($"hook answer '{path}' cannot be {node.ToJsonString()} ({underlying.Name})");
        }
        throw new HookFormatException($"hook answer '{path}': a {underlying.Name} cannot be given");
    }

    private static Array ToArray(List<object?> items, Type element)
    {
        var array = Array.CreateInstance(element, items.Count);
        for (var i = 0; i < items.Count; i++) array.SetValue(items[i], i);
        return array;
    }

    private sealed class HookFormatException(string message) : FormatException(message);
}
