using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Projection;

namespace Dsl.Generator.Emit;

/// <summary>
/// Emits one role: its inputs, services and result types, its state enum, and its machine. The machine is sans-IO
/// at its core (<c>StartAsync</c>, <c>ContinueAsync</c>, <c>ReceiveAsync</c>, <c>FailAsync</c> answer with a
/// <c>HandshakeStep</c>, touching no transport and no timer); <c>RunAsync</c> hands it to the runtime's driver.
/// Each check, let and field value is mapped to its line in the spec with <c>#line</c>.
/// </summary>
internal sealed class RoleEmitter
{
    private const string Step = CSharp.Handshakes + ".HandshakeStep";
    private const string Error = CSharp.Handshakes + ".HandshakeError";
    private const string Ct = "cancellationToken";

    private readonly BoundProtocol _protocol;
    private readonly RoleMachine _machine;
    private readonly RoleSymbol _role;
    private readonly string _prefix;
    private readonly string _type;
    private readonly RoleTypeNames _names;
    private readonly string _message;
    private readonly string _step;
    private readonly Dictionary<KeptValue, string> _kept = new();
    private readonly ExpressionEmitter _expressions;
    private readonly SourceWriter _w;

    private RoleEmitter(ProjectedProtocol projected, RoleMachine machine)
    {
        _protocol = projected.Protocol;
        _machine = machine;
        _role = _protocol.Role(machine.Role);
        _prefix = Naming.Pascal(_protocol.Name);
        _names = Naming.RoleTypes(_prefix, machine.Role);
        _type = _names.Machine;
        _message = Naming.MessageBase(_prefix);
        _step = $"{Step}<{_message}, {_names.Result}>";
        var fields = new NameTable("_inputs", "_services", "_hooks", "_options", "_driven", "_afterSend", "_clock", "_startedAt");
        foreach (var value in machine.Kept)
        {
            _kept[value] = fields.Take("_" + value.Kind switch
            {
                KeptKind.Field => Naming.Camel(value.Message) + Naming.Pascal(value.Field!),
                KeptKind.EnvelopeField => Naming.Camel(value.Message) + "Envelope" + Naming.Pascal(value.Field ?? "payload"),
                _ => Naming.Camel(value.Name),
            });
        }
        _expressions = new ExpressionEmitter(_protocol, machine, _kept);
        var states = new NameTable(_names.State, "Failed");
        foreach (var state in machine.States)
        {
            _stateNames[state.Id] = states.Take(state.Kind switch
            {
                StateKind.Send => "Send" + Naming.Pascal(state.Message!),
                StateKind.Receive when state.Alternatives.IsEmpty => "AwaitFailure",
                StateKind.Receive => "Await" + string.Join("Or", state.Alternatives.Select(a => Naming.Pascal(a.Message))),
                StateKind.Decide => "Choose" + Naming.Pascal(state.Phase),
                StateKind.Fail => "Fail" + Naming.Pascal(state.FailCode!),
                _ => "Succeeded",
            });
        }
        _w = MessageEmitter.Header(_protocol, mapToSpec: true);
    }

    public static string Emit(ProjectedProtocol protocol, RoleMachine machine) => new RoleEmitter(protocol, machine).Emit();

    private bool HasServices => _protocol.ServicesOf(_role.Name).Any();

    private bool HasHooks => _protocol.HooksOf(_role.Name).Any();

    private MachineState StateOf(int id) => _machine.State(id);

    private readonly Dictionary<int, string> _stateNames = new();

    /// <summary>The C# name of a state: Send{M}, Await{M}, Await{M1}Or{M2}, Choose{Phase}, Fail{Code}, Succeeded; numbered when used twice.</summary>
    private string Name(MachineState state) => _stateNames[state.Id];

    private string S(int id) => $"{_names.State}.{_stateNames[id]}";

    private string Emit()
    {
        var w = _w;
        // Inputs
        w.Summary($"What the {_role.Name} role of {_protocol.Name} {_protocol.Version} is configured with.");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public sealed partial record {_names.Inputs}");
        foreach (var input in _role.Inputs)
        {
            MessageEmitter.EmitProperty(w, _protocol, input);
            w.Line();
        }
        if (_role.Inputs.Any(i => i.Secret))
        {
            // A record prints every member: the secret ones (secret: true) print that they are set, never their value.
            w.Summary("Prints the inputs for the record's ToString, the secret ones as '(secret)', never their value.");
            w.Open("private bool PrintMembers(global::System.Text.StringBuilder builder)");
            var first = true;
            foreach (var input in _role.Inputs)
            {
                var name = Naming.Pascal(input.Name);
                var separator = first ? "" : ", ";
                w.Line(input.Secret
                    ? $"builder.Append({CSharp.Literal(separator + name + " = ")}).Append({(input.IsNullable ? $"{name} is null ? \"null\" : " : "")}\"(secret)\");"
                    : $"builder.Append({CSharp.Literal(separator + name + " = ")}).Append((object?){name});");
                first = false;
            }
            w.Line("return true;");
            w.Close();
        }
        w.Close();
        w.Line();

        if (HasServices)
        {
            w.Summary($"The stores the {_role.Name} role uses; the application chooses their implementations.");
            w.Line(CSharp.GeneratedCode);
            w.Open($"public sealed partial record {_names.Services}");
            foreach (var service in _protocol.ServicesOf(_role.Name))
            {
                var descriptor = service.Descriptor;
                var type = descriptor.RuntimeInterface + (descriptor.Generic ? "<" + CSharp.Type(service.ValueType!) + ">" : "");
                w.Summary(service.Doc ?? $"The '{service.Name}' service ({service.Kind}).");
                w.Line($"public required {type} {Naming.Pascal(service.Name)} {{ get; init; }}");
                w.Line();
            }
            w.Close();
            w.Line();
        }

        if (HasHooks) EmitHooksInterface(w);

        // Result
        w.Summary($"What the {_role.Name} role learns from a successful handshake.");
        w.Line(CSharp.GeneratedCode);
        var secrets = _role.Outcome.Where(o => o.IsSecret).ToList();
        w.Open($"public sealed partial record {_names.Result}{(secrets.Count > 0 ? " : global::System.IDisposable" : "")}");
        foreach (var field in _role.Outcome)
        {
            if (field.IsSecret)
            {
                w.SummaryXml($"The outcome '{field.Name}': key material, in sodium memory; it prints its length, never its value, and <see cref=\"Dispose\"/> wipes it.");
                w.Line($"public {(field.Type.MayBeAbsent ? "" : "required ")}{SecretType}{(field.Type.MayBeAbsent ? "?" : "")} {Naming.Pascal(field.Name)} {{ get; init; }}");
            }
            else
            {
                w.Summary($"The outcome '{field.Name}'.");
                w.Line($"public {(field.Type.MayBeAbsent ? "" : "required ")}{CSharp.Type(field.Type.Type, field.Type.MayBeAbsent)} {Naming.Pascal(field.Name)} {{ get; init; }}");
            }
            w.Line();
        }
        if (secrets.Count > 0)
        {
            w.Summary("Wipes and frees the key material this result holds (a channel opened from it keeps its own copy).");
            w.Open("public void Dispose()");
            foreach (var field in secrets) w.Line($"{Naming.Pascal(field.Name)}{(field.Type.MayBeAbsent ? "?" : "")}.Dispose();");
            w.Close();
        }
        w.Close();
        w.Line();

        // States
        w.Summary($"The states of the {_role.Name} machine, projected from the spec's flow.");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public enum {_names.State}");
        foreach (var state in _machine.States)
        {
            w.Summary(Describe(state));
            w.Line($"{Name(state)} = {state.Id.ToString(CultureInfo.InvariantCulture)},");
        }
        w.Summary("The handshake failed.");
        w.Line("Failed = -1,");
        w.Close();
        w.Line();

        EmitMachine();
        return MessageEmitter.Footer(w);
    }

    /// <summary>The interface the application implements to answer the role's hooks: one async method per hook.</summary>
    private void EmitHooksInterface(SourceWriter w)
    {
        w.Summary($"The decisions the {_role.Name} role of {_protocol.Name} {_protocol.Version} leaves to the application. " +
                  "A hook that throws ends the handshake with internal_error naming it; one that outlives the step timeout ends it with step_timeout.");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public interface {_names.Hooks}");
        foreach (var hook in _protocol.HooksOf(_role.Name))
        {
            w.Summary(hook.Doc ?? $"The hook '{hook.Name}'.");
            foreach (var parameter in hook.Parameters)
                w.Param(Naming.Camel(parameter.Name), parameter.Doc ?? $"The input '{parameter.Name}'.");
            w.Param("cancellationToken", "Cancelled when the step times out or the handshake ends; honour it.");
            w.Line($"{CSharp.Tasks}.ValueTask<{CSharp.Type(hook.Output, hook.OutputMayBeAbsent)}> {HookMethod(hook)}({HookParameters(hook)});");
            w.Line();
        }
        w.Close();
        w.Line();
    }

    private static string HookMethod(HookSymbol hook) => Naming.Pascal(hook.Name) + "Async";

    private static string HookParameters(HookSymbol hook)
        => string.Join(", ", hook.Parameters.Select(p => $"{CSharp.Type(p.Type, p.Optional)} {CSharp.Identifier(Naming.Camel(p.Name))}")
            .Append($"{CSharp.CancellationToken} cancellationToken"));

    /// <summary>
    /// One private method per hook: it calls the application and names the hook in what it throws, so the failure
    /// reads "hook 'burn_verified' threw ...", not a bare exception from somewhere in the machine.
    /// </summary>
    private void EmitHookCalls()
    {
        var w = _w;
        foreach (var hook in _protocol.HooksOf(_role.Name))
        {
            var output = CSharp.Type(hook.Output, hook.OutputMayBeAbsent);
            w.Open($"private async {CSharp.Tasks}.ValueTask<{output}> Hook{HookMethod(hook)}({HookParameters(hook)})");
            w.Open("try");
            var arguments = string.Join(", ", hook.Parameters.Select(p => CSharp.Identifier(Naming.Camel(p.Name))).Append("cancellationToken"));
            // A hook that ignores its token still cannot hold the step past its timeout: the machine stops waiting.
            w.Line($"var pending = _hooks.{HookMethod(hook)}({arguments});");
            w.Line("return pending.IsCompletedSuccessfully ? pending.Result : await pending.AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);");
            w.Close();
            w.Open("catch (global::System.Exception exception) when (!cancellationToken.IsCancellationRequested)");
            w.Line($"throw new {CSharp.Handshakes}.HandshakeHookException({CSharp.Literal(hook.Name)}, exception);");
            w.Close();
            w.Close();
            w.Line();
        }
    }

    private static string Describe(MachineState state) => state.Kind switch
    {
        StateKind.Send => $"Sends '{state.Message}' (phase '{state.Phase}').",
        StateKind.Receive when state.Alternatives.IsEmpty => $"Waits for the peer's error message, or its close (phase '{state.Phase}').",
        StateKind.Receive => $"Waits for {string.Join(" or ", state.Alternatives.Select(a => "'" + a.Message + "'"))} (phase '{state.Phase}').",
        StateKind.Decide => $"Chooses a branch (phase '{state.Phase}').",
        StateKind.Fail => $"Fails with '{state.FailCode}'.",
        _ => "The handshake completed.",
    };

    private void EmitMachine()
    {
        var w = _w;
        var initial = StateOf(0);
        w.Summary($"The {_role.Name} role of {_protocol.Name} {_protocol.Version}: one instance runs one handshake, over any transport with RunAsync, or step by step without one (its sans-IO core).{(_role.Doc is null ? "" : " " + _role.Doc)}");
        w.Line(CSharp.GeneratedCode);
        w.Open($"public sealed partial class {_type} : {CSharp.Handshakes}.IHandshakeMachine<{_message}, {_names.Result}>");
        w.Summary("The role's name in the spec.");
        w.Line($"public const string Role = {CSharp.Literal(_role.Name)};");
        w.Line();
        w.Summary($"The spec's timeouts: {_protocol.HandshakeTimeoutMs} ms for the handshake, {_protocol.StepTimeoutMs} ms per step.");
        w.Line($"public static {CSharp.Handshakes}.HandshakeOptions DefaultOptions {{ get; }} = new()");
        w.Line("{");
        w.Line($"    HandshakeTimeout = global::System.TimeSpan.FromMilliseconds({_protocol.HandshakeTimeoutMs}),");
        w.Line($"    StepTimeout = global::System.TimeSpan.FromMilliseconds({_protocol.StepTimeoutMs}),");
        w.Line("};");
        w.Line();
        w.Line("// What an exported state is bound to: this protocol, version and role, and the layout of these states and kept values.");
        w.Line($"private const string StateIdentity = {CSharp.Literal($"{_protocol.Name} {_protocol.Version} {_role.Name} {_machine.Layout}")};");
        w.Line();
        foreach (var input in _role.Inputs.Where(i => i.Constraints.Pattern is not null))
        {
            w.Line($"private static readonly global::System.Text.RegularExpressions.Regex {InputPattern(input)} = {CSharp.Codecs}.Patterns.Create({CSharp.Literal(input.Constraints.Pattern!)});");
            w.Line();
        }
        w.Line($"private readonly {_names.Inputs} _inputs;");
        if (HasServices) w.Line($"private readonly {_names.Services} _services;");
        if (HasHooks) w.Line($"private readonly {_names.Hooks} _hooks;");
        w.Line($"private readonly {CSharp.Handshakes}.HandshakeOptions _options;");
        w.Line("private int _driven;");
        w.Line("// The send state whose message is going out: ContinueAsync runs its effects, if any. -1 otherwise.");
        w.Line("private int _afterSend = -1;");
        w.Line("// The clock reading of the step in progress (UTC ticks: 8 bytes a waiting machine holds, not 16): one read per step.");
        w.Line("private long _clock;");
        if (!_machine.Kept.IsEmpty) w.Line("// The values later steps read: nothing else of the handshake is kept while it waits.");
        foreach (var value in _machine.Kept)
            w.Line($"private {KeptStorage.Type(value.Type)} {_kept[value]};");
        w.Line();

        w.Summary($"Creates the {_role.Name} machine for one handshake.");
        w.Param("inputs", "What this role is configured with.");
        if (HasServices) w.Param("services", "The stores this role uses.");
        if (HasHooks) w.Param("hooks", "The application's answers to this role's hooks.");
        w.Param("options", "Timeouts and clock; <see cref=\"DefaultOptions\"/> when null.");
        w.Open($"public {_type}({_names.Inputs} inputs, {(HasServices ? $"{_names.Services} services, " : "")}{(HasHooks ? $"{_names.Hooks} hooks, " : "")}{CSharp.Handshakes}.HandshakeOptions? options = null)");
        w.Line("_inputs = inputs ?? throw new global::System.ArgumentNullException(nameof(inputs));");
        foreach (var input in _role.Inputs) EmitInputCheck(input);
        if (HasServices) w.Line("_services = services ?? throw new global::System.ArgumentNullException(nameof(services));");
        if (HasHooks) w.Line("_hooks = hooks ?? throw new global::System.ArgumentNullException(nameof(hooks));");
        w.Line("_options = options ?? DefaultOptions;");
        if (_kept.TryGetValue(KeptValue.Transcript, out var transcript)) w.Line($"{transcript} = {KeptStorage.Store(KeptValue.Transcript.Type, CSharp.Builtins + ".TranscriptStart")};");
        w.Line($"Phase = {CSharp.Literal(initial.Phase)};");
        w.Close();
        w.Line();
        w.Summary("The state the machine is in.");
        w.Line($"public {_names.State} State {{ get; private set; }} = {S(0)};");
        w.Line();
        w.Summary("The phase the machine is in; failures report it.");
        w.Line("public string Phase { get; private set; }");
        w.Line();
        w.Summary("When the handshake started (kept across an export and restore), or null before it starts.");
        w.Line("public global::System.DateTimeOffset? StartedAt");
        w.Line("{");
        w.Line("    get => _startedAt == 0 ? null : new global::System.DateTimeOffset(_startedAt, global::System.TimeSpan.Zero);");
        w.Line("    private set => _startedAt = value?.UtcTicks ?? 0;");
        w.Line("}");
        w.Line();
        w.Line("// StartedAt in UTC ticks, 0 before the start: 8 bytes where a nullable DateTimeOffset takes 24.");
        w.Line("private long _startedAt;");
        w.Line();
        w.Summary("The peer's host as the transport reported it when the handshake started (peer.address in the spec).");
        w.Line("public string PeerAddress { get; private set; } = \"unknown\";");
        w.Line();
        w.Summary("Whether the handshake has ended, in success or failure.");
        var succeeded = _machine.States.Where(s => s.Kind == StateKind.Succeed).Select(s => S(s.Id)).Append($"{_names.State}.Failed");
        w.Line($"public bool IsCompleted => _afterSend < 0 && State is {string.Join(" or ", succeeded)};");
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Line($"string {CSharp.Handshakes}.IHandshakeMachine<{_message}, {_names.Result}>.Role => Role;");
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Line($"{CSharp.Handshakes}.HandshakeOptions {CSharp.Handshakes}.IHandshakeMachine<{_message}, {_names.Result}>.Options => _options;");
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Line($"string {CSharp.Handshakes}.IHandshakeMachine<{_message}, {_names.Result}>.MalformedCode => {CSharp.Literal(_protocol.MalformedCode)};");
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Line($"string {CSharp.Handshakes}.IHandshakeMachine<{_message}, {_names.Result}>.Protocol => {CSharp.Literal(_protocol.Name)};");
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Line($"string {CSharp.Handshakes}.IHandshakeMachine<{_message}, {_names.Result}>.Version => {CSharp.Literal(_protocol.Version)};");
        w.Line();

        EmitRun();
        EmitCore();
        EmitFailure();
        EmitSeal();
        EmitHookCalls();
        EmitReleaseSecrets();
        StateExport.Emit(w, _protocol, _machine, _names, _kept);
        EmitTable();
        if (_protocol.Heartbeat is not null) EmitHeartbeat();
        EmitChannel();
        w.Close();
    }

    private static string InputPattern(FieldSymbol input) => $"s_{Naming.Pascal(input.Name)}Pattern";

    /// <summary>Inputs are checked once, when the machine is made: a bad configuration is the caller's error, not a handshake failure.</summary>
    private void EmitInputCheck(FieldSymbol input)
    {
        var w = _w;
        var value = "inputs." + Naming.Pascal(input.Name);
        if (!CSharp.IsValueType(input.Type) && !input.IsNullable)
            w.Line($"if ({value} is null) throw new global::System.ArgumentException({CSharp.Literal($"Input '{input.Name}' is required.")}, nameof(inputs));");
        if (input.Constraints.IsEmpty) return;
        var v = "input" + Naming.Pascal(input.Name);
        w.Open($"if ({value} is {{ }} {v})");
        foreach (var (condition, rule) in CodecEmitter.Rules(input, v, InputPattern(input)))
            w.Line($"if ({condition}) throw new global::System.ArgumentException({CSharp.Literal($"Input '{input.Name}' {rule}.")}, nameof(inputs));");
        w.Close();
    }

    private void EmitRun()
    {
        var w = _w;
        w.SummaryXml($"Runs the handshake as the {SourceWriter.Escape(_role.Name)} over <paramref name=\"transport\"/>. Never throws: a failure of any kind " +
                     "(a bad or unexpected message, a failed check, a timeout, the peer closing, cancellation) is returned as the outcome's error, " +
                     "after the peer has been sent the error message the spec names and the transport has been closed. On success the transport stays open.");
        w.Param("transport", "The channel to the peer.");
        w.Param("cancellationToken", "Cancels the handshake; the outcome is then 'cancelled'.");
        w.Open($"public {CSharp.Tasks}.ValueTask<{CSharp.Handshakes}.HandshakeOutcome<{_names.Result}>> RunAsync({Transports}.IMessageTransport transport, {CSharp.CancellationToken} cancellationToken = default)");
        w.Line("if (global::System.Threading.Interlocked.Exchange(ref _driven, 1) != 0)");
        w.Line("    throw new global::System.InvalidOperationException(\"A role machine runs one handshake; create a new one for the next.\");");
        w.Line($"return {CSharp.Handshakes}.HandshakeDriver.RunAsync(this, transport, {Naming.Codec(_prefix)}.Instance, _options, cancellationToken);");
        w.Close();
        w.Line();
    }

    private const string Transports = "global::Dsl.Runtime.Transports";

    private void EmitCore()
    {
        var w = _w;
        w.Line("/// <inheritdoc />");
        w.Open($"public async {CSharp.Tasks}.ValueTask<{_step}> StartAsync(string? peerAddress, {CSharp.CancellationToken} {Ct})");
        w.Line("if (IsCompleted) throw new global::System.InvalidOperationException(\"The handshake has ended.\");");
        w.Open("if (StartedAt is null)");
        w.Line("StartedAt = _options.TimeProvider.GetUtcNow();");
        w.Line("PeerAddress = string.IsNullOrEmpty(peerAddress) ? \"unknown\" : peerAddress;");
        w.Close();
        w.Line($"return await AdvanceAsync(null, {Ct}).ConfigureAwait(false);");
        w.Close();
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Open($"public {CSharp.Tasks}.ValueTask<{_step}> ContinueAsync({CSharp.CancellationToken} {Ct})");
        w.Line("if (_afterSend < 0) throw new global::System.InvalidOperationException(\"The machine has no message going out.\");");
        w.Line($"return AdvanceAsync(null, {Ct});");
        w.Close();
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Open($"public {CSharp.Tasks}.ValueTask<{_step}> ReceiveAsync({_message} message, {CSharp.CancellationToken} {Ct})");
        w.Line("if (message is null) throw new global::System.ArgumentNullException(nameof(message));");
        w.Line("if (StartedAt is null || IsCompleted || _afterSend >= 0) throw new global::System.InvalidOperationException(\"The machine is not waiting for a message.\");");
        if (_protocol.Envelope is { } envelope)
            w.Line($"if (message.Envelope is null) return FailAsync(new {Error}({CSharp.Literal(_protocol.MalformedCode)}, Phase, Role, {CSharp.Literal($"The message arrived without its {envelope.Name}")}), {Ct});");
        w.Line($"return AdvanceAsync(message, {Ct});");
        w.Close();
        w.Line();
        w.Line("/// <inheritdoc />");
        w.Open($"public {CSharp.Tasks}.ValueTask<{_step}> FailAsync({Error} error, {CSharp.CancellationToken} {Ct})");
        w.Line("if (error is null) throw new global::System.ArgumentNullException(nameof(error));");
        w.Line($"return FailCoreAsync(error, {Ct});");
        w.Close();
        w.Line();

        w.SummaryXml("Runs the machine from its state until it must send, wait or end; <paramref name=\"received\"/> is the message a receive state asked for.");
        w.Open($"private async {CSharp.Tasks}.ValueTask<{_step}> AdvanceAsync({_message}? received, {CSharp.CancellationToken} {Ct})");
        w.Open("try");
        if (_machine.States.Any(s => s.Kind == StateKind.Send && !s.Actions.IsEmpty))
            w.Line($"if (_afterSend >= 0) await AfterSendAsync({Ct}).ConfigureAwait(false);");
        else
            w.Line("_afterSend = -1;");
        w.Open("while (true)");
        w.Open("switch (State)");
        foreach (var state in _machine.States)
        {
            w.Open($"case {S(state.Id)}:");
            switch (state.Kind)
            {
                case StateKind.Send: EmitSend(state); break;
                case StateKind.Receive: EmitReceive(state); break;
                case StateKind.Decide: EmitDecide(state); break;
                case StateKind.Succeed: EmitSucceed(state); break;
                default:
                    w.Line($"Phase = {CSharp.Literal(state.Phase)};");
                    w.Line($"return await FailCoreAsync(new {Error}({Code(state.FailCode!)}, Phase, Role, {CSharp.Literal("The flow ends in failure " + state.FailCode)}), {Ct}).ConfigureAwait(false);");
                    break;
            }
            w.Close();
        }
        w.Line("default:");
        w.Line("    throw new global::System.InvalidOperationException(\"The machine is in state \" + State + \" and cannot run.\");");
        w.Close();
        w.Close();
        w.Close();
        w.Line($"catch (global::System.OperationCanceledException) when ({Ct}.IsCancellationRequested)");
        w.Open("");
        w.Line("throw;");
        w.Close();
        w.Line("catch (global::System.Exception exception)");
        w.Open("");
        w.Line("// A store, a hook or the machine itself threw: a bug or an outage, never a protocol failure.");
        w.Line($"return await FailCoreAsync({Error}.Internal(Phase, Role, exception), {Ct}).ConfigureAwait(false);");
        w.Close();
        w.Close();
        w.Line();
        EmitAfterSend();
    }

    private string Code(string code) => $"{Naming.ErrorCodes(_prefix)}.{Naming.Pascal(code)}";

    /// <summary>The step's one clock reading, kept for what runs later in the same step.</summary>
    private void ReadClock()
    {
        _w.Line($"var now = {CSharp.Builtins}.Clock(_options.TimeProvider);");
        _w.Line("_clock = now.UtcTicks;");
    }

    /// <summary>
    /// Lets: a local variable when only this part of the machine reads it, a kept value when a later part does,
    /// and, when nothing reads it, only evaluated (a service call in it still runs).
    /// </summary>
    /// <param name="rewritable">Whether the lets are a sender's, which the attack kit's misbehaving peer may change (<c>HandshakeRewriter.Let</c>).</param>
    private Dictionary<int, string> EmitLets(EquatableArray<LetSymbol> lets, EmitScope scope, IEnumerable<BoundExpression?> region, bool rewritable = false)
    {
        var w = _w;
        var read = new HashSet<int>(region.Concat(lets.Select(l => l.Value)).SelectMany(RoleProjector.References).OfType<BoundLet>().Select(l => l.LetId));
        var locals = new Dictionary<int, string>();
        var names = new NameTable();
        foreach (var let in lets)
        {
            var kept = KeptValue.OfLet(let);
            var at = scope.WithLocals(locals);
            w.LineFrom(let.Span);
            // A key the machine makes stays its own; any other value a misbehaving sender may change.
            var rewrite = rewritable && !MakesKey(let);
            if (_kept.TryGetValue(kept, out var field))
            {
                w.Line($"{field} = {KeptStorage.Store(kept.Type, _expressions.Maybe(let.Value, at))};");
                if (rewrite)
                    w.Line($"if (_options.Rewriter is not null) {field} = {KeptStorage.Store(kept.Type, $"({CSharp.Type(let.Type.Type, true)})_options.Rewriter.Let({CSharp.Literal(let.Name)}, {KeptStorage.Load(kept.Type, field)})")};");
            }
            else if (!read.Contains(let.Id))
                w.Line(MakesKey(let) ? $"{_expressions.Maybe(let.Value, at)}?.Dispose();" : $"_ = {_expressions.Maybe(let.Value, at)};");
            else
            {
                var local = names.Take("let" + Naming.Pascal(let.Name));
                // A key the step makes and only the step uses is wiped when the step ends.
                var dispose = MakesKey(let) ? "using " : "";
                w.Line(let.Type.MayBeAbsent
                    ? $"{dispose}{CSharp.Type(let.Type.Type, true)} {local} = {_expressions.Maybe(let.Value, at)};"
                    : $"{dispose}{CSharp.Type(let.Type.Type)} {local} = {_expressions.Value(let.Value, at)};");
                if (rewrite)
                    w.Line($"if (_options.Rewriter is not null) {local} = ({CSharp.Type(let.Type.Type, let.Type.MayBeAbsent)})_options.Rewriter.Let({CSharp.Literal(let.Name)}, {local}){(let.Type.MayBeAbsent ? "" : "!")};");
                locals[let.Id] = local;
            }
            w.LineDefault();
        }
        return locals;
    }

    private void EmitCheck(BoundCheck check, EmitScope scope)
    {
        _w.LineFrom(check.Span);
        _w.Line($"if (!{_expressions.Value(check.Condition, scope)}) return await FailCoreAsync(new {Error}({Code(check.Code)}, Phase, Role, {CSharp.Literal("Check failed: " + check.Source)}), {Ct}).ConfigureAwait(false);");
        _w.LineDefault();
    }

    private void EmitEffect(BoundEffect effect, EmitScope scope)
    {
        _w.LineFrom(effect.Span);
        var call = _expressions.Maybe(effect.Call, scope);
        // A service call is '(await ...)': as a statement it is written without the parentheses.
        _w.Line((call.StartsWith("(await ", System.StringComparison.Ordinal) ? call.Substring(1, call.Length - 2) : "_ = " + call) + ";");
        _w.LineDefault();
    }

    /// <summary>Keeps the fields of a message that later steps read, from <paramref name="variable"/>.</summary>
    private void EmitKeep(string message, string variable)
    {
        foreach (var value in _machine.Kept.Where(v => v.Message == message))
        {
            var source = value.Kind == KeptKind.Field
                ? ExpressionEmitter.FieldMember(variable, value.Field!)
                : ExpressionEmitter.EnvelopeMember(variable, value.Field);
            _w.Line($"{_kept[value]} = {KeptStorage.Store(value.Type, source)};");
        }
    }

    private void EmitSend(MachineState state)
    {
        var w = _w;
        var message = _protocol.Message(state.Message!);
        var type = Naming.Pascal(message.Name);
        w.Line($"Phase = {CSharp.Literal(state.Phase)};");
        ReadClock();
        var region = state.Ensures.Select(c => (BoundExpression?)c.Condition).Concat(state.Set.Select(a => a.Value));
        var scope = EmitScope.Empty.WithLocals(EmitLets(state.Lets, EmitScope.Empty, region, rewritable: true));
        foreach (var check in state.Ensures) EmitCheck(check, scope);
        w.Line($"var msg = new {type}");
        w.Line("{");
        w.Indent();
        foreach (var set in state.Set.Where(s => !message.SignatureFields.Contains(s.Field)))
        {
            w.LineFrom(set.Span);
            w.Line($"{Naming.Pascal(set.Field)} = {_expressions.FieldValue(message.Field(set.Field), set.Value, scope)},");
            w.LineDefault();
        }
        // A required signature field holds nothing until the rest is signed: EncodeUnsigned leaves it out.
        foreach (var field in message.Fields.Where(f => message.SignatureFields.Contains(f.Name) && !f.IsNullable))
            w.Line($"{Naming.Pascal(field.Name)} = {CSharp.Codecs}.Bytes.Empty,");
        w.Outdent();
        w.Line("};");
        // The attack kit's misbehaving peer changes the message here, so that it is signed and kept as changed.
        w.Line($"if (_options.Rewriter is not null) msg = ({type})_options.Rewriter.Message(msg);");
        if (message.SignsItself)
        {
            // The signature fields are computed over the rest of the message, as canonical JSON, and kept with it.
            w.Line($"var unsigned = {Naming.Codec(_prefix)}.Instance.EncodeUnsigned(msg);");
            w.Line("msg = msg with");
            w.Line("{");
            w.Indent();
            foreach (var set in state.Set.Where(s => message.SignatureFields.Contains(s.Field)))
            {
                w.LineFrom(set.Span);
                w.Line($"{Naming.Pascal(set.Field)} = {_expressions.FieldValue(message.Field(set.Field), set.Value, scope)},");
                w.LineDefault();
            }
            w.Line($"{Naming.EnvelopeUnsigned} = unsigned,");
            w.Outdent();
            w.Line("};");
        }
        if (_protocol.Envelope is not null) w.Line($"msg = ({type})Seal(msg, now);");
        EmitKeep(message.Name, "msg");
        EmitTranscript("msg");
        w.Line($"State = {S(state.Next)};");
        w.Line($"_afterSend = {state.Id.ToString(CultureInfo.InvariantCulture)};");
        w.Line($"return {_step}.Send(msg);");
    }

    /// <summary>Adds the step's message to the transcript, when the role reads it: after the sender built it, after the receiver checked it.</summary>
    private void EmitTranscript(string variable)
    {
        if (!_kept.TryGetValue(KeptValue.Transcript, out var transcript)) return;
        var canonical = _protocol.Envelope is not null
            ? $"{CSharp.Present}.Reference({variable}.Envelope).{Naming.EnvelopePayload}"
            : $"{Naming.Codec(_prefix)}.Instance.EncodeCanonicalPayload({variable})";
        var type = KeptValue.Transcript.Type;
        _w.Line($"{transcript} = {KeptStorage.Store(type, $"{CSharp.Builtins}.TranscriptAppend({CSharp.Present}.Value({KeptStorage.Load(type, transcript)}), {canonical})")};");
    }

    /// <summary>
    /// Whether a let holds a key the machine made (x25519_keypair()), which the machine wipes; a let that names a key
    /// the application gave (an input) is the application's to dispose.
    /// </summary>
    private const string SecretType = "global::Dsl.Runtime.Cryptography.SecretBytes";

    private static bool MakesKey(LetSymbol let) => let.Value is BoundCall { Descriptor.Result.Kind: TypeKind.X25519Key };

    /// <summary>The kept lets that hold keys the machine made.</summary>
    private IEnumerable<KeptValue> KeptKeys
    {
        get
        {
            var lets = _protocol.Flow.Lets.ToDictionary(l => l.Id);
            return _machine.Kept.Where(k => k.Kind == KeptKind.Let && lets.TryGetValue(k.LetId, out var let) && MakesKey(let));
        }
    }

    /// <summary>Wipes the ephemeral keys the machine kept (x25519_keypair() in a let later steps read), once the handshake has ended.</summary>
    private void EmitReleaseSecrets()
    {
        var keys = KeptKeys.ToList();
        if (keys.Count == 0) return;
        var w = _w;
        w.Summary("Wipes the ephemeral keys this handshake made, once it has ended.");
        w.Open("private void ReleaseSecrets()");
        foreach (var key in keys)
        {
            w.Line($"{_kept[key]}?.Dispose();");
            w.Line($"{_kept[key]} = null;");
        }
        w.Close();
        w.Line();
    }

    private bool HasSecrets => KeptKeys.Any();

    /// <summary>The sender's effects, run once its message has gone out.</summary>
    private void EmitAfterSend()
    {
        var sends = _machine.States.Where(s => s.Kind == StateKind.Send && !s.Actions.IsEmpty).ToList();
        if (sends.Count == 0) return;
        var w = _w;
        w.Summary("Runs the effects of the send state whose message has just gone out, with that step's clock reading.");
        w.Open($"private async {CSharp.Tasks}.ValueTask AfterSendAsync({CSharp.CancellationToken} {Ct})");
        w.Line("var now = new global::System.DateTimeOffset(_clock, global::System.TimeSpan.Zero);");
        w.Line("var state = _afterSend;");
        w.Line("_afterSend = -1;");
        w.Open("switch (state)");
        foreach (var state in sends)
        {
            w.Open($"case {state.Id.ToString(CultureInfo.InvariantCulture)}:");
            foreach (var action in state.Actions) EmitEffect(action, EmitScope.Empty);
            w.Line("break;");
            w.Close();
        }
        w.Close();
        w.Close();
        w.Line();
    }

    private void EmitReceive(MachineState state)
    {
        var w = _w;
        w.Line($"Phase = {CSharp.Literal(state.Phase)};");
        var timeout = state.TimeoutMs is { } ms ? $"global::System.TimeSpan.FromMilliseconds({ms.ToString(CultureInfo.InvariantCulture)})" : "null";
        w.Line($"if (received is null) return {_step}.Receive({timeout});");
        w.Line("var message = received;");
        w.Line("received = null;");
        if (state.Alternatives.Any(a => a.Checks.Count + a.Actions.Count > 0) || EnvelopeChecks.Any()) ReadClock();
        w.Open("switch (message)");
        foreach (var alternative in state.Alternatives)
        {
            var type = Naming.Pascal(alternative.Message);
            var scope = new EmitScope { Current = alternative.Message };
            w.Open($"case {type} msg:");
            w.Line($"Phase = {CSharp.Literal(alternative.Phase)};");
            EmitKeep(alternative.Message, "msg");
            // The envelope's checks come first, for every message.
            foreach (var check in EnvelopeChecks) EmitCheck(check, s_anyMessage);
            // The receiver's checks, with its lets where they are written among them.
            var region = alternative.Checks.Select(c => (BoundExpression?)c.Condition).Concat(alternative.Actions.Select(a => (BoundExpression?)a.Call)).ToList();
            var locals = new Dictionary<int, string>();
            for (var i = 0; i <= alternative.Checks.Count; i++)
            {
                var here = alternative.Lets.Where(l => l.Position == i).Select(l => l.Let).ToEquatableArray();
                if (!here.IsEmpty)
                    foreach (var local in EmitLets(here, scope.WithLocals(locals), region.Concat(alternative.Lets.Select(l => (BoundExpression?)l.Let.Value)))) locals[local.Key] = local.Value;
                scope = scope.WithLocals(locals);
                if (i < alternative.Checks.Count) EmitCheck(alternative.Checks[i], scope);
            }
            // The step's message joins the transcript once checked, before the receiver's do, as the sender's do runs after it went out.
            EmitTranscript("msg");
            foreach (var action in alternative.Actions) EmitEffect(action, scope);
            w.Line($"State = {S(alternative.Next)};");
            w.Line("continue;");
            w.Close();
        }
        foreach (var error in _protocol.Messages.Where(m => m.IsErrorMessage))
        {
            var code = "err." + Naming.Pascal(error.ReportsCode!);
            var detail = error.ReportsDetail is null ? code
                : error.Field(error.ReportsDetail).IsNullable ? $"err.{Naming.Pascal(error.ReportsDetail)} ?? {code}" : $"err.{Naming.Pascal(error.ReportsDetail)}";
            w.Line($"case {Naming.Pascal(error.Name)} err:");
            w.Line($"    return await FailCoreAsync(new {Error}({code}, Phase, Role, {detail}, RaisedByPeer: true), {Ct}).ConfigureAwait(false);");
        }
        var expected = state.Alternatives.IsEmpty ? "only the peer's error message" : string.Join(" or ", state.Alternatives.Select(a => "'" + a.Message + "'"));
        w.Line("default:");
        w.Line($"    return await FailCoreAsync(new {Error}({CSharp.Literal(_protocol.MalformedCode)}, Phase, Role, \"Unexpected message '\" + message.MessageType + \"' in phase '\" + Phase + {CSharp.Literal("'; expected " + expected)}), {Ct}).ConfigureAwait(false);");
        w.Close();
    }

    /// <summary>The checks this role runs on every received message's envelope.</summary>
    private IEnumerable<BoundCheck> EnvelopeChecks
        => _protocol.Envelope?.Checks.FirstOrDefault(c => c.Role == _role.Name)?.Checks ?? EquatableArray<BoundCheck>.Empty;

    /// <summary>Where the envelope's checks are emitted: the received message, of whichever type, is 'message'.</summary>
    private static readonly EmitScope s_anyMessage = new() { Current = ExpressionBinder.AnyMessageName, MessageVariable = "message" };

    private void EmitDecide(MachineState state)
    {
        var w = _w;
        w.Line($"Phase = {CSharp.Literal(state.Phase)};");
        ReadClock();
        var scope = EmitScope.Empty.WithLocals(EmitLets(state.Lets, EmitScope.Empty, state.Branches.Select(b => b.Guard)));
        foreach (var branch in state.Branches)
        {
            if (branch.Guard is null)
            {
                w.Line($"State = {S(branch.Next)};");
                w.Line("continue;");
                continue;
            }
            w.LineFrom(branch.Span);
            w.Line($"if ({_expressions.Value(branch.Guard, scope)}) {{ State = {S(branch.Next)}; continue; }}");
            w.LineDefault();
        }
    }

    private void EmitSucceed(MachineState state)
    {
        var w = _w;
        w.Line($"Phase = {CSharp.Literal(state.Phase)};");
        if (_role.Outcome.Count > 0) ReadClock();
        w.Line($"var result = new {_names.Result}");
        w.Line("{");
        w.Indent();
        foreach (var field in _role.Outcome)
        {
            w.LineFrom(field.Span);
            var value = field.Type.MayBeAbsent ? _expressions.Maybe(field.Value, EmitScope.Empty) : _expressions.Value(field.Value, EmitScope.Empty);
            // A key derivation's fresh result is taken (its managed copy wiped); a let or a part of one is copied, since the
            // machine may still read it for another value.
            var fresh = field.Value is BoundCall { Descriptor.Secret: SecretRule.Yields };
            if (field.IsSecret) value = $"{SecretType}.{(fresh ? "Take" : "CopyOf")}{(field.Type.MayBeAbsent ? "OrNull" : "")}({value})";
            w.Line($"{Naming.Pascal(field.Name)} = {value},");
            w.LineDefault();
        }
        w.Outdent();
        w.Line("};");
        if (HasSecrets) w.Line("ReleaseSecrets();");
        w.Line($"return {_step}.Succeed(result);");
    }

    // ---- Failure ---------------------------------------------------------------------------------

    private void EmitFailure()
    {
        var w = _w;
        var coded = _protocol.Errors.Where(e => e.Effects.Any(r => r.Role == _role.Name && !r.Calls.IsEmpty)).ToList();
        var always = _protocol.FailureEffects.Where(r => r.Role == _role.Name).SelectMany(r => r.Calls).ToList();
        var effects = coded.Count > 0 || always.Count > 0;
        w.SummaryXml("Ends the handshake with <paramref name=\"error\"/>: runs the spec's effects of a failure for this role (the code's <c>do</c> when this side raised it, then <c>on_failure</c>), best effort, and returns the failed step with the error message the spec sends the peer.");
        w.Open($"private {(effects ? "async " : "")}{CSharp.Tasks}.ValueTask<{_step}> FailCoreAsync({Error} error, {CSharp.CancellationToken} {Ct})");
        var result = effects ? "" : $"new {CSharp.Tasks}.ValueTask<{_step}>";
        w.Line($"if (State == {_names.State}.Failed) return {result}({_step}.Fail(error, null));");
        w.Line($"State = {_names.State}.Failed;");
        w.Line($"var now = {CSharp.Builtins}.Clock(_options.TimeProvider);");
        if (effects)
        {
            w.Open("try");
            if (coded.Count > 0)
            {
                w.Open("if (!error.RaisedByPeer)");
                w.Open("switch (error.Code)");
                foreach (var error in coded)
                {
                    w.Open($"case {Code(error.Code)}:");
                    foreach (var call in error.Effects.First(r => r.Role == _role.Name).Calls) EmitEffect(call, EmitScope.Empty);
                    w.Line("break;");
                    w.Close();
                }
                w.Close();
                w.Close();
            }
            foreach (var call in always) EmitEffect(call, EmitScope.Empty);
            w.Close();
            w.Line("catch (global::System.Exception)");
            w.Open("");
            w.Line("// A store that fails or gives up here must not change the outcome: the handshake has already failed.");
            w.Close();
        }
        w.Line($"{_message}? message = null;");
        w.Line("if (!error.RaisedByPeer)");
        w.Line("    message = CreateErrorMessage(error, now);");
        if (HasSecrets) w.Line("ReleaseSecrets();");
        w.Line($"return {result}({_step}.Fail(error, message));");
        w.Close();
        w.Line();

        w.Summary("The message the spec sends the peer for an error this side raises, or null.");
        w.Open($"private {_message}? CreateErrorMessage({Error} error, global::System.DateTimeOffset now)");
        var sending = _protocol.Errors.Where(e => e.Send is not null).ToList();
        if (sending.Count > 0)
        {
            w.Open("switch (error.Code)");
            foreach (var error in sending)
            {
                var message = _protocol.Message(error.Send!);
                w.Line($"case {Code(error.Code)}:");
                w.Line($"    return {(_protocol.Envelope is null ? "" : "Seal(")}new {Naming.Pascal(message.Name)}");
                w.Line("    {");
                w.Line($"        {Naming.Pascal(message.ReportsCode!)} = error.Code,");
                foreach (var set in error.Set)
                {
                    w.LineFrom(set.Span);
                    w.Line($"        {Naming.Pascal(set.Field)} = {_expressions.FieldValue(message.Field(set.Field), set.Value, EmitScope.Empty)},");
                    w.LineDefault();
                }
                w.Line(_protocol.Envelope is null ? "    };" : "    }, now);");
            }
            w.Close();
        }
        w.Line("return null;");
        w.Close();
        w.Line();
    }

    /// <summary>Seals a message in the spec's envelope: the envelope's fields are computed over the message's canonical JSON.</summary>
    private void EmitSeal()
    {
        if (_protocol.Envelope is not { } envelope) return;
        var w = _w;
        var set = envelope.Set.First(r => r.Role == _role.Name).Set;
        var signatures = set.Where(v => envelope.SignatureFields.Contains(v.Field)).ToList();
        w.Summary(envelope.SignsItself
            ? $"Seals a message in its {envelope.Name}: the envelope's fields are computed over the message's canonical JSON, then its signature over the canonical envelope without it."
            : $"Seals a message in its {envelope.Name}: the envelope's fields are computed over the message's canonical JSON.");
        w.Open($"private {_message} Seal({_message} message, global::System.DateTimeOffset now)");
        w.Line($"var payload = {Naming.Codec(_prefix)}.Instance.EncodeCanonicalPayload(message);");
        w.Line($"var envelope = new {Naming.Pascal(envelope.Name)}");
        w.Line("{");
        w.Indent();
        w.Line($"{Naming.EnvelopePayload} = payload,");
        foreach (var value in set.Where(v => !envelope.SignatureFields.Contains(v.Field)))
        {
            w.LineFrom(value.Span);
            w.Line($"{Naming.Pascal(value.Field)} = {_expressions.FieldValue(envelope.Fields.First(f => f.Name == value.Field), value.Value, EmitScope.Empty)},");
            w.LineDefault();
        }
        // A signature field is computed last, over the rest; until then it holds nothing.
        foreach (var field in envelope.Fields.Where(f => envelope.SignatureFields.Contains(f.Name) && !f.Optional))
            w.Line($"{Naming.Pascal(field.Name)} = default!,");
        w.Outdent();
        w.Line("};");
        if (envelope.SignsItself)
        {
            w.Line($"var unsigned = {Naming.Codec(_prefix)}.Instance.EncodeUnsigned(envelope);");
            w.Line($"envelope = envelope with");
            w.Line("{");
            w.Indent();
            w.Line($"{Naming.EnvelopeUnsigned} = unsigned,");
            foreach (var value in signatures)
            {
                w.LineFrom(value.Span);
                w.Line($"{Naming.Pascal(value.Field)} = {_expressions.FieldValue(envelope.Fields.First(f => f.Name == value.Field), value.Value, EmitScope.Empty)},");
                w.LineDefault();
            }
            w.Outdent();
            w.Line("};");
        }
        w.Line("return message with { Envelope = envelope };");
        w.Close();
        w.Line();
    }

    // ---- The transition table ----------------------------------------------------------------------

    private void EmitTable()
    {
        var w = _w;
        var errorNames = _protocol.Messages.Where(m => m.IsErrorMessage).Select(m => m.Name).ToList();
        var waiting = _machine.States.Where(s => s.Kind == StateKind.Receive).ToList();
        foreach (var state in waiting)
        {
            var names = state.Alternatives.Select(a => a.Message).Concat(errorNames).Select(CSharp.Literal);
            w.Line($"private static readonly global::System.Collections.Generic.IReadOnlyList<string> s_permitted{Name(state)} = global::System.Array.AsReadOnly(new string[] {{ {string.Join(", ", names)} }});");
        }
        w.Line("private static readonly global::System.Collections.Generic.IReadOnlyList<string> s_permittedNone = global::System.Array.AsReadOnly(global::System.Array.Empty<string>());");
        w.Line();
        w.SummaryXml("The messages this role accepts in <paramref name=\"state\"/> (the peer's error messages are accepted in every waiting state): one read-only list per state, made once.");
        w.Param("state", "A state of this machine.");
        w.Open($"public static global::System.Collections.Generic.IReadOnlyList<string> PermittedMessages({_names.State} state) => state switch");
        foreach (var state in waiting) w.Line($"{S(state.Id)} => s_permitted{Name(state)},");
        w.Line("_ => s_permittedNone,");
        w.Close(";");
        w.Line();
        w.SummaryXml("Whether this role accepts the message named <paramref name=\"messageType\"/> in <paramref name=\"state\"/>.");
        w.Param("state", "A state of this machine.");
        w.Param("messageType", "A message's wire name.");
        w.Open($"public static bool CanReceive({_names.State} state, string messageType)");
        w.Line("foreach (var permitted in PermittedMessages(state))");
        w.Line("    if (permitted == messageType) return true;");
        w.Line("return false;");
        w.Close();
        w.Line();

        var lines = new List<string> { "stateDiagram-v2", $"    [*] --> {Name(StateOf(0))}" };
        foreach (var state in _machine.States)
        {
            switch (state.Kind)
            {
                case StateKind.Send:
                    lines.Add($"    {Name(state)} --> {Name(StateOf(state.Next))} : send {state.Message}");
                    break;
                case StateKind.Receive:
                    foreach (var alternative in state.Alternatives)
                        lines.Add($"    {Name(state)} --> {Name(StateOf(alternative.Next))} : receive {alternative.Message}");
                    lines.Add($"    {Name(state)} --> Failed : error, timeout or bad message");
                    break;
                case StateKind.Decide:
                    var i = 0;
                    foreach (var branch in state.Branches)
                        lines.Add($"    {Name(state)} --> {Name(StateOf(branch.Next))} : {(branch.Guard is null ? "otherwise" : "branch " + (++i).ToString(CultureInfo.InvariantCulture))}");
                    break;
                case StateKind.Succeed:
                    lines.Add($"    {Name(state)} --> [*]");
                    break;
                case StateKind.Fail:
                    lines.Add($"    {Name(state)} --> Failed : {state.FailCode}");
                    break;
            }
        }
        lines.Add("    Failed --> [*]");
        w.Summary("The machine as a Mermaid state diagram.");
        w.Line($"public const string Mermaid = {CSharp.Literal(string.Join("\n", lines) + "\n")};");
        w.Line();
    }

    // ---- Secure channel --------------------------------------------------------------------------

    /// <summary>OpenChannel: the spec's AEAD channel over a transport, with the keys of a successful handshake's result.</summary>
    private void EmitChannel()
    {
        if (_protocol.Channel is not { } channel || channel.Keys.FirstOrDefault(k => k.Role == _role.Name) is not { } keys) return;
        var w = _w;
        const string channels = "global::Dsl.Runtime.Channels";
        var cipher = channel.Cipher is { } name
            ? $"{channels}.SecureChannelOptions.CipherNamed({CSharp.Literal(name)})"
            : _role.Outcome.First(o => o.Name == channel.CipherValue).Type.Type.Kind == TypeKind.Enum
                ? $"{channels}.SecureChannelOptions.CipherNamed({Naming.Codec(_prefix)}.ToWire(result.{Naming.Pascal(channel.CipherValue!)}))"
                : $"{channels}.SecureChannelOptions.CipherNamed(result.{Naming.Pascal(channel.CipherValue!)})";
        w.Line();
        w.SummaryXml($"Opens the spec's secure channel over <paramref name=\"transport\"/> once the handshake has succeeded: application frames sealed with '{keys.Send}' and opened with '{keys.Receive}', each direction with its own counter nonce. The channel owns the transport from then on and wipes its copy of the keys when it closes. Open one channel per handshake: a second one from the same result would start its counters again under the same keys, reusing nonces.");
        w.Param("transport", "The transport the handshake ran over.");
        w.Param("result", "The handshake's result.");
        w.Param("mode", "Ordered for TCP, WebSocket and in memory; Datagram (a sliding replay window) for UDP.");
        w.Open($"public static {channels}.SecureChannel OpenChannel(global::Dsl.Runtime.Transports.IMessageTransport transport, {_names.Result} result, {channels}.SecureChannelMode mode = {channels}.SecureChannelMode.Ordered)");
        w.Line("global::System.ArgumentNullException.ThrowIfNull(result);");
        string Key(string name) => _role.Outcome.First(o => o.Name == name).IsSecret ? $"result.{Naming.Pascal(name)}" : $"result.{Naming.Pascal(name)}.Span";
        w.Line($"return {channels}.SecureChannel.Create(transport, {Key(keys.Send)}, {Key(keys.Receive)}, new {channels}.SecureChannelOptions");
        w.Line("{");
        w.Indent();
        w.Line($"Cipher = {cipher},");
        w.Line("Mode = mode,");
        if (channel.Binding is { } binding) w.Line($"ChannelBinding = result.{Naming.Pascal(binding)},");
        w.Outdent();
        w.Line("});");
        w.Close();
    }

    // ---- Heartbeat -------------------------------------------------------------------------------

    private void EmitHeartbeat()
    {
        var w = _w;
        var heartbeat = _protocol.Heartbeat!;
        var mine = heartbeat.Roles.First(r => r.Role == _role.Name);
        var pinger = heartbeat.Pinger == _role.Name;
        var ping = _protocol.Message(heartbeat.PingMessage);
        var pong = _protocol.Message(heartbeat.PongMessage);
        var pingType = Naming.Pascal(ping.Name);
        var pongType = Naming.Pascal(pong.Name);
        var succeeded = string.Join(" or ", _machine.States.Where(s => s.Kind == StateKind.Succeed).Select(s => S(s.Id)));
        var session = $"global::Dsl.Runtime.Sessions.HeartbeatSession<{_message}>";

        w.Summary($"Starts the session that follows a successful handshake: the {(pinger ? $"{_role.Name} sends '{ping.Name}' every interval" : $"{_role.Name} answers each '{ping.Name}' with '{pong.Name}'")}, " +
                  $"and the peer is dropped after {heartbeat.MissedIntervals} intervals of silence. The session owns the transport from now on.");
        w.Param("transport", "The transport the handshake ran over.");
        w.Param("onMessage", "Receives the application's messages (everything but the heartbeat).");
        w.Param("cancellationToken", "Ends the session.");
        w.Open($"public {session} StartSession({Transports}.IMessageTransport transport, global::System.Func<{_message}, {CSharp.CancellationToken}, {CSharp.Tasks}.ValueTask>? onMessage = null, {CSharp.CancellationToken} cancellationToken = default)");
        w.Line($"if (State is not ({succeeded}))");
        w.Line("    throw new global::System.InvalidOperationException(\"The session starts after a successful handshake; the machine is in state \" + State + \".\");");
        w.Line($"var now = {CSharp.Builtins}.Clock(_options.TimeProvider);");
        w.Line($"var interval = global::System.TimeSpan.FromMilliseconds({_expressions.Value(mine.IntervalMs, EmitScope.Empty)});");
        w.Line($"var options = new global::Dsl.Runtime.Sessions.HeartbeatOptions {{ Interval = interval, MissedIntervals = {heartbeat.MissedIntervals}, SendsPings = {(pinger ? "true" : "false")}, TimeProvider = _options.TimeProvider }};");
        w.Line($"var session = new {session}(transport, {Naming.Codec(_prefix)}.Instance, new Heartbeat(this), options, onMessage);");
        w.Line("session.Start(cancellationToken);");
        w.Line("return session;");
        w.Close();
        w.Line();

        w.Open($"private sealed class Heartbeat({_type} machine) : global::Dsl.Runtime.Sessions.IHeartbeatMessages<{_message}>");
        if (pinger)
        {
            w.Line($"public {_message} CreatePing() => machine.CreatePing();");
            w.Line($"public {_message}? CreatePong({_message} received) => null;");
        }
        else
        {
            w.Line($"public {_message} CreatePing() => throw new global::System.InvalidOperationException({CSharp.Literal($"The {_role.Name} does not send '{ping.Name}'.")});");
            w.Line($"public {_message}? CreatePong({_message} received) => received is {pingType} ping ? machine.CreatePong(ping) : null;");
        }
        w.Line($"public bool IsPong({_message} message) => message is {pongType};");
        w.Close();
        w.Line();

        var created = pinger ? ping : pong;
        var createdType = Naming.Pascal(created.Name);
        w.Open(pinger ? $"private {pingType} CreatePing()" : $"private {pongType} CreatePong({pingType} ping)");
        w.Line($"var now = {CSharp.Builtins}.Clock(_options.TimeProvider);");
        w.Line(_protocol.Envelope is null ? $"return new {createdType}" : $"return ({createdType})Seal(new {createdType}");
        w.Line("{");
        w.Indent();
        foreach (var set in mine.Set)
        {
            w.LineFrom(set.Span);
            w.Line($"{Naming.Pascal(set.Field)} = {_expressions.FieldValue(created.Field(set.Field), set.Value, EmitScope.Empty)},");
            w.LineDefault();
        }
        w.Outdent();
        w.Line(_protocol.Envelope is null ? "};" : "}, now);");
        w.Close();
    }
}
