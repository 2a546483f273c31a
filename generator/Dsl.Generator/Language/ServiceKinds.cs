using System.Collections.Generic;
using System.Linq;

namespace Dsl.Generator.Language;

/// <summary>What a service setting holds.</summary>
internal enum SettingKind
{
    /// <summary>A duration (<c>600s</c>), passed as a <c>TimeSpan</c>.</summary>
    Duration,
    /// <summary>A positive whole number, passed as an <c>int</c>.</summary>
    Count,
}

/// <summary>A setting a service kind takes in the spec.</summary>
internal sealed record ServiceSetting(string Name, SettingKind Kind, string Doc);

/// <summary>
/// One method of a service kind: its name, parameters, result, when the result may be absent, the runtime member
/// it calls (a method of the kind's interface, awaited, taking the spec's arguments, then <see cref="CallDescriptor.Implicit"/>,
/// then the cancellation token) and its docs.
/// </summary>
internal sealed class ServiceMethodDescriptor : CallDescriptor
{
    /// <param name="parameters">Parameters; <see cref="TypeKind.Null"/> stands for the service's value type (a value_store's <c>of</c>).</param>
    /// <param name="result">The result; <see cref="TypeKind.Void"/> for none, <see cref="TypeKind.Null"/> for the service's value type.</param>
    public ServiceMethodDescriptor(string name, Parameter[] parameters, TypeRef result, string runtimeMember, string doc)
        : base(name, parameters, result, runtimeMember, doc)
    {
    }

    public bool ReturnsNothing => Result.Kind == TypeKind.Void;

    /// <summary>
    /// For a question (a method answering yes or no): the method of the same service that, called first with the same
    /// arguments, makes it answer the other way; what <c>dsl attack</c> puts in a victim's store to reach a check
    /// that asks it (an operator's blacklisting, a key pinned before, a value seen before).
    /// </summary>
    public string? AnsweredOtherwiseAfter { get; init; }

    /// <summary>With <see cref="AnsweredOtherwiseAfter"/>: whether that call takes another value for the last argument (another key pinned for the node).</summary>
    public bool WithAnotherLastArgument { get; init; }
}

/// <summary>
/// One service kind: its name, the runtime interface the application implements, its settings and methods.
/// The binder, the emitter, DSL109's list and the docs' tables read this one list.
/// </summary>
internal sealed class ServiceKindDescriptor
{
    public ServiceKindDescriptor(string name, string runtimeInterface, string doc)
    {
        Name = name;
        RuntimeInterface = runtimeInterface;
        Doc = doc;
    }

    public string Name { get; }

    /// <summary>The interface the service property has; a generic one takes the value type's C# type.</summary>
    public string RuntimeInterface { get; }

    /// <summary>
    /// Whether what it records counts against a connection or an address (a value seen, a failed attempt), not for or
    /// against a peer's identity: a failed handshake may write to it (the security lints and <c>dsl attack</c> read this).
    /// </summary>
    public bool CountsAgainstConnection { get; init; }

    /// <summary>Whether the kind holds values of a type the spec gives under <c>of</c>.</summary>
    public bool Generic { get; init; }

    public IReadOnlyList<ServiceSetting> Settings { get; init; } = new ServiceSetting[0];

    public IReadOnlyList<ServiceMethodDescriptor> Methods { get; init; } = new ServiceMethodDescriptor[0];

    public string Doc { get; }

    public ServiceMethodDescriptor? Method(string name) => Methods.FirstOrDefault(m => m.Name == name);
}

/// <summary>Every service kind of the language, in one list.</summary>
internal static class ServiceKinds
{
    private static Parameter P(string name, TypeRef type) => new(name, type);

    private static readonly TypeRef ValueOf = TypeRef.Null;

    public static readonly IReadOnlyList<ServiceKindDescriptor> All = new[]
    {
        new ServiceKindDescriptor("thread_store", "global::Dsl.Runtime.Services.IThreadStore", "The threads a server has issued (LTP); in memory: `InMemoryThreadStore`.")
        {
            Methods = new[]
            {
                new ServiceMethodDescriptor("contains", new[] { P("thread_id", TypeRef.Uuid), P("client_id", TypeRef.String) }, TypeRef.Bool, "ContainsAsync",
                    "whether the thread was issued to this client"),
                new ServiceMethodDescriptor("open", new[] { P("thread_id", TypeRef.Uuid), P("client_id", TypeRef.String), P("session_id", TypeRef.Uuid) }, TypeRef.Void, "OpenAsync",
                    "records a newly issued thread and the session that opened it"),
                new ServiceMethodDescriptor("touch", new[] { P("thread_id", TypeRef.Uuid), P("session_id", TypeRef.Uuid) }, TypeRef.Void, "TouchAsync",
                    "records that the session resumed the thread"),
            },
        },
        new ServiceKindDescriptor("value_store", "global::Dsl.Runtime.Services.IValueStore", "Single values by string key, of the type the service's `of` names; in memory: `InMemoryValueStore<T>`.")
        {
            Generic = true,
            Methods = new[]
            {
                new ServiceMethodDescriptor("get", new[] { P("key", TypeRef.String) }, ValueOf, "GetAsync", "the value under the key")
                { AbsentWhen = "when nothing is stored under the key" },
                new ServiceMethodDescriptor("set", new[] { P("key", TypeRef.String), P("value", ValueOf) }, TypeRef.Void, "SetAsync", "stores or replaces the value"),
                new ServiceMethodDescriptor("remove", new[] { P("key", TypeRef.String) }, TypeRef.Void, "RemoveAsync", "removes the value, if any"),
            },
        },
        new ServiceKindDescriptor("pin_store", "global::Dsl.Runtime.Services.IPinnedKeyStore", "The public key first seen for each node id, trust on first use (Mesh).")
        {
            Methods = new[]
            {
                new ServiceMethodDescriptor("matches", new[] { P("node_id", TypeRef.Bytes), P("public_key", TypeRef.Bytes) }, TypeRef.Bool, "MatchesAsync",
                    "true when the node id has no pin, or is pinned to exactly this key") { AnsweredOtherwiseAfter = "pin", WithAnotherLastArgument = true },
                new ServiceMethodDescriptor("pin", new[] { P("node_id", TypeRef.Bytes), P("public_key", TypeRef.Bytes) }, TypeRef.Bool, "PinAsync",
                    "pins the key if the node id has none yet (atomically); true when this key is now pinned, newly or already, false (changing nothing) when another key is"),
            },
        },
        new ServiceKindDescriptor("trust_store", "global::Dsl.Runtime.Services.ITrustStore", "The trust level of each node (Mesh).")
        {
            Methods = new[]
            {
                new ServiceMethodDescriptor("is_blacklisted", new[] { P("node_id", TypeRef.Bytes) }, TypeRef.Bool, "IsBlacklistedAsync",
                    "whether the node is `Blacklisted`") { AnsweredOtherwiseAfter = "blacklist" },
                new ServiceMethodDescriptor("authenticate", new[] { P("node_id", TypeRef.Bytes) }, TypeRef.Void, "AuthenticateAsync",
                    "moves the node to `Authenticated` where the table allows (a `Trusted` or `System` node keeps its level)") { Implicit = new[] { ImplicitArgument.StepClock } },
                new ServiceMethodDescriptor("blacklist", new[] { P("node_id", TypeRef.Bytes) }, TypeRef.Void, "BlacklistAsync",
                    "moves the node to `Blacklisted`, unless it is `System`") { Implicit = new[] { ImplicitArgument.StepClock } },
            },
        },
        new ServiceKindDescriptor("replay_cache", "global::Dsl.Runtime.Services.IReplayCache", "Values seen recently, to refuse replays.")
        {
            CountsAgainstConnection = true,
            Settings = new[] { new ServiceSetting("window", SettingKind.Duration, "how long a value is remembered") },
            Methods = new[]
            {
                new ServiceMethodDescriptor("fresh", new[] { P("value", TypeRef.Bytes) }, TypeRef.Bool, "FreshAsync",
                    "true when the value is not remembered (or its record has expired), and remembers it for `window` from now; false for a repeat within the window, which does not extend it")
                { Implicit = new[] { ImplicitArgument.StepClock, ImplicitArgument.SettingNamed("window") }, AnsweredOtherwiseAfter = "fresh" },
            },
        },
        new ServiceKindDescriptor("address_block_list", "global::Dsl.Runtime.Services.IAddressBlockList", "Addresses refused after repeated failures.")
        {
            CountsAgainstConnection = true,
            Settings = new[]
            {
                new ServiceSetting("max_failures", SettingKind.Count, "failed attempts that block an address"),
                new ServiceSetting("within", SettingKind.Duration, "the window in which they count"),
                new ServiceSetting("block_for", SettingKind.Duration, "how long the address stays blocked"),
            },
            Methods = new[]
            {
                new ServiceMethodDescriptor("allows", new[] { P("address", TypeRef.String) }, TypeRef.Bool, "AllowsAsync",
                    "false while the address is blocked") { Implicit = new[] { ImplicitArgument.StepClock } },
                new ServiceMethodDescriptor("strike", new[] { P("address", TypeRef.String) }, TypeRef.Void, "StrikeAsync",
                    "records a failed attempt; when `max_failures` of them fall within `within`, the address is blocked for `block_for` and its count starts again; a strike while blocked neither counts nor extends the block")
                {
                    Implicit = new[] { ImplicitArgument.StepClock, ImplicitArgument.SettingNamed("max_failures"), ImplicitArgument.SettingNamed("within"), ImplicitArgument.SettingNamed("block_for") },
                },
            },
        },
    };

    private static readonly Dictionary<string, ServiceKindDescriptor> s_byName = All.ToDictionary(k => k.Name);

    public static ServiceKindDescriptor? Find(string name) => s_byName.TryGetValue(name, out var kind) ? kind : null;

    /// <summary>The names, for DSL109.</summary>
    public static string Names => string.Join(", ", All.Select(k => k.Name));
}
