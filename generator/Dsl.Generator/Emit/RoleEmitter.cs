using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Dsl.Generator.Model;
using static Dsl.Generator.Emit.ExpressionEmitter;

namespace Dsl.Generator.Emit;

/// <summary>
/// Emits one role: its inputs, services and result types, its state enum, and the state machine with
/// its run loop, transition table, Mermaid diagram and (when the spec has one) heartbeat session.
/// </summary>
internal static class RoleEmitter
{
    public static string Emit(ProtocolModel protocol, RoleModel role)
    {
        var p = protocol.TypePrefix;
        var t = role.TypeName;
        var w = MessageEmitter.Header(protocol);

        // Inputs
        w.Summary($"What the {role.Name} role of {protocol.Name} {protocol.Version} is configured with.");
        w.Line(CSharpTypes.GeneratedCode);
        w.Open($"public sealed partial record {t}Inputs");
        foreach (var input in role.Inputs)
        {
            MessageEmitter.EmitProperty(w, input);
            w.Line();
        }
        w.Close();
        w.Line();

        if (!role.Services.IsEmpty)
        {
            w.Summary($"The stores the {role.Name} role uses; the application chooses their implementations.");
            w.Line(CSharpTypes.GeneratedCode);
            w.Open($"public sealed partial record {t}Services");
            foreach (var service in role.Services)
            {
                w.Summary(service.Doc ?? $"The '{service.Name}' service ({service.Kind}).");
                w.Line($"public required {service.CSharpType} {service.PropertyName} {{ get; init; }}");
                w.Line();
            }
            w.Close();
            w.Line();
        }

        // Result
        w.Summary($"What the {role.Name} role learns from a successful handshake.");
        w.Line(CSharpTypes.GeneratedCode);
        w.Open($"public sealed partial record {t}Result");
        foreach (var field in role.Outcome)
        {
            w.Summary($"The outcome '{field.Name}'.");
            w.Line($"public {(field.Type.Nullable ? "" : "required ")}{CSharpTypes.Of(field.Type)} {field.PropertyName} {{ get; init; }}");
            w.Line();
        }
        w.Close();
        w.Line();

        // States
        w.Summary($"The states of the {role.Name} machine, projected from the spec's flow.");
        w.Line(CSharpTypes.GeneratedCode);
        w.Open($"public enum {t}State");
        foreach (var state in role.States)
        {
            w.Summary(Describe(protocol, state));
            w.Line($"{state.Name} = {state.Id.ToString(CultureInfo.InvariantCulture)},");
        }
        w.Summary("The handshake failed.");
        w.Line("Failed = -1,");
        w.Close();
        w.Line();

        EmitMachine(w, protocol, role);
        return MessageEmitter.Footer(w);
    }

    private static string Describe(ProtocolModel protocol, StateModel state) => state.Kind switch
    {
        StateKind.Send => $"Sends '{state.Message}' (phase '{state.Phase}').",
        StateKind.Receive => $"Waits for {string.Join(" or ", state.Alternatives.Select(a => "'" + a.Message + "'"))} (phase '{state.Phase}').",
        StateKind.Decide => $"Chooses a branch (phase '{state.Phase}').",
        StateKind.Fail => $"Fails with '{state.FailCode}'.",
        _ => "The handshake completed.",
    };

    private static void EmitMachine(SourceWriter w, ProtocolModel protocol, RoleModel role)
    {
        var p = protocol.TypePrefix;
        var t = role.TypeName;
        var hasServices = !role.Services.IsEmpty;
        var stateOf = role.States.ToDictionary(s => s.Id);

        w.Summary($"The {role.Name} role of {protocol.Name} {protocol.Version}: one instance runs one handshake over any transport.{(role.Doc is null ? "" : " " + role.Doc)}");
        w.Line(CSharpTypes.GeneratedCode);
        w.Open($"public sealed partial class {t}");
        w.Summary("The role's name in the spec.");
        w.Line($"public const string Role = {Binding.Expressions.ExpressionBinder.Literal(role.Name)};");
        w.Line();
        w.Summary($"The spec's timeouts: {protocol.HandshakeTimeoutMs} ms for the handshake, {protocol.StepTimeoutMs} ms per step.");
        w.Line("public static global::Dsl.Runtime.Handshakes.HandshakeOptions DefaultOptions { get; } = new()");
        w.Line("{");
        w.Line($"    HandshakeTimeout = global::System.TimeSpan.FromMilliseconds({protocol.HandshakeTimeoutMs}),");
        w.Line($"    StepTimeout = global::System.TimeSpan.FromMilliseconds({protocol.StepTimeoutMs}),");
        w.Line("};");
        w.Line();
        w.Line($"private readonly {t}Inputs _inputs;");
        if (hasServices) w.Line($"private readonly {t}Services _services;");
        w.Line("private readonly global::Dsl.Runtime.Handshakes.HandshakeOptions _options;");
        w.Line("private int _started;");
        foreach (var message in protocol.Messages.Where(m => m.ReportsCode is null && (protocol.Heartbeat is null || (m.Name != protocol.Heartbeat.PingMessage && m.Name != protocol.Heartbeat.PongMessage))))
            w.Line($"private {message.TypeName}? {TranscriptField(message.TypeName)};");
        foreach (var local in role.Locals)
            w.Line($"private {CSharpTypes.Of(local.Type.Type, true)} {local.FieldName};");
        w.Line();

        w.Summary($"Creates the {role.Name} machine for one handshake.");
        w.Line("/// <param name=\"inputs\">What this role is configured with.</param>");
        if (hasServices) w.Line("/// <param name=\"services\">The stores this role uses.</param>");
        w.Line("/// <param name=\"options\">Timeouts and clock; <see cref=\"DefaultOptions\"/> when null.</param>");
        w.Open($"public {t}({t}Inputs inputs, {(hasServices ? $"{t}Services services, " : "")}global::Dsl.Runtime.Handshakes.HandshakeOptions? options = null)");
        w.Line("_inputs = inputs ?? throw new global::System.ArgumentNullException(nameof(inputs));");
        foreach (var input in role.Inputs) EmitInputCheck(w, input);
        if (hasServices) w.Line("_services = services ?? throw new global::System.ArgumentNullException(nameof(services));");
        w.Line("_options = options ?? DefaultOptions;");
        w.Close();
        w.Line();
        w.Summary("The state the machine is in.");
        w.Line($"public {t}State State {{ get; private set; }} = {t}State.{stateOf[role.InitialState].Name};");
        w.Line();
        w.Line("// Whole seconds: the precision timestamps have on the wire, so both sides compute with the same values.");
        w.Line("private global::System.DateTimeOffset Now => global::System.DateTimeOffset.FromUnixTimeSeconds(_options.TimeProvider.GetUtcNow().ToUnixTimeSeconds());");
        w.Line();

        EmitRun(w, protocol, role);
        EmitErrorFactory(w, protocol, role);
        EmitSealAndEffects(w, protocol, role);
        EmitTable(w, protocol, role);
        if (protocol.Heartbeat is not null) EmitHeartbeat(w, protocol, role);
        w.Close();
    }

    /// <summary>Inputs are checked once, when the machine is made: a bad configuration is the caller's error, not a handshake failure.</summary>
    private static void EmitInputCheck(SourceWriter w, FieldModel input)
    {
        var value = "inputs." + input.PropertyName;
        if (!input.Type.IsValueType && !input.IsNullable)
            w.Line($"if ({value} is null) throw new global::System.ArgumentException(\"Input '{input.Name}' is required.\", nameof(inputs));");
        var c = input.Constraints;
        if (c.IsEmpty) return;
        var v = "input" + input.PropertyName;
        w.Open($"if ({value} is {{ }} {v})");
        void Rule(string condition, string rule)
            => w.Line($"if ({condition}) throw new global::System.ArgumentException({Binding.Expressions.ExpressionBinder.Literal($"Input '{input.Name}' {rule}.")}, nameof(inputs));");
        var length = input.Type.Kind == TypeKind.List ? ".Count" : ".Length";
        var unit = input.Type.Kind switch { TypeKind.List => "items", TypeKind.Bytes => "bytes", _ => "characters" };
        if (c.MinLength is { } minLength) Rule($"{v}{length} < {minLength}", $"must have at least {minLength} {unit}");
        if (c.MaxLength is { } maxLength) Rule($"{v}{length} > {maxLength}", $"must have at most {maxLength} {unit}");
        if (c.Min is { } min) Rule($"{v} < {min}L", $"must be at least {min}");
        if (c.Max is { } max) Rule($"{v} > {max}L", $"must be at most {max}");
        if (c.Pattern is not null) Rule($"!global::Dsl.Runtime.Codecs.Patterns.IsMatch(global::Dsl.Runtime.Codecs.Patterns.Create({Binding.Expressions.ExpressionBinder.Literal(c.Pattern)}), {v})", $"must match the pattern {c.Pattern}");
        if (!c.OneOf.IsEmpty) Rule($"{v} is not ({string.Join(" or ", c.OneOf.Select(Binding.Expressions.ExpressionBinder.Literal))})", $"must be one of: {string.Join(", ", c.OneOf)}");
        w.Close();
    }

    private static void EmitRun(SourceWriter w, ProtocolModel protocol, RoleModel role)
    {
        var p = protocol.TypePrefix;
        var t = role.TypeName;
        var stateOf = role.States.ToDictionary(s => s.Id);
        string Go(int id) => $"State = {t}State.{stateOf[id].Name};";
        var errorMessages = protocol.Messages.Where(m => m.ReportsCode is not null).ToList();

        w.Summary($"Runs the handshake as the {role.Name} over <paramref name=\"transport\"/>. Never throws: a failure of any kind " +
                  "(a bad or unexpected message, a failed check, a timeout, the peer closing, cancellation) is returned as the outcome's error, " +
                  "after the peer has been sent the error message the spec names and the transport has been closed. On success the transport stays open.");
        w.Line("/// <param name=\"transport\">The channel to the peer.</param>");
        w.Line("/// <param name=\"cancellationToken\">Cancels the handshake; the outcome is then 'cancelled'.</param>");
        w.Open($"public async global::System.Threading.Tasks.ValueTask<global::Dsl.Runtime.Handshakes.HandshakeOutcome<{t}Result>> RunAsync(global::Dsl.Runtime.Transports.IMessageTransport transport, global::System.Threading.CancellationToken cancellationToken = default)");
        w.Line("if (global::System.Threading.Interlocked.Exchange(ref _started, 1) != 0)");
        w.Line("    throw new global::System.InvalidOperationException(\"A role machine runs one handshake; create a new one for the next.\");");
        w.Line($"await using var run = new global::Dsl.Runtime.Handshakes.HandshakeRun<{p}Message>(Role, {Binding.Expressions.ExpressionBinder.Literal(protocol.MalformedCode)}, transport, {p}Codec.Instance, _options, cancellationToken);");
        w.Open("try");
        w.Open("while (true)");
        w.Open("switch (State)");
        foreach (var state in role.States)
        {
            w.Open($"case {t}State.{state.Name}:");
            w.Line($"run.Phase = {Binding.Expressions.ExpressionBinder.Literal(state.Phase)};");
            switch (state.Kind)
            {
                case StateKind.Decide:
                    foreach (var let in state.Lets)
                        w.Line($"{let.FieldName} = {ExpressionEmitter.Emit(let.Value)};");
                    foreach (var branch in state.Branches)
                    {
                        if (branch.Guard is null) w.Line($"{Go(branch.Next)} continue;");
                        else w.Line($"if ({Value(branch.Guard)}) {{ {Go(branch.Next)} continue; }}");
                    }
                    break;
                case StateKind.Send:
                {
                    var message = protocol.Messages.First(m => m.Name == state.Message);
                    foreach (var let in state.Lets)
                        w.Line($"{let.FieldName} = {ExpressionEmitter.Emit(let.Value)};");
                    foreach (var check in state.Ensures)
                    {
                        var constant = protocol.Errors.First(e => e.Code == check.Code).ConstantName;
                        w.Line($"if (!{Value(check.Condition)})");
                        w.Line($"    throw run.Fail({p}ErrorCodes.{constant}, {Binding.Expressions.ExpressionBinder.Literal("Check failed: " + check.Source)});");
                    }
                    w.Line($"var msg = new {message.TypeName}");
                    w.Line("{");
                    w.Indent();
                    foreach (var set in state.Set)
                    {
                        var field = message.Fields.First(f => f.Name == set.Field);
                        var value = field.IsNullable ? ExpressionEmitter.Emit(set.Value) : Value(set.Value);
                        if (field.Optional && !field.IsNullable && set.Value.Type.Nullable)
                            value = $"{ExpressionEmitter.Emit(set.Value)} ?? {field.DefaultLiteral}";
                        w.Line($"{set.PropertyName} = {value},");
                    }
                    w.Outdent();
                    w.Line("};");
                    if (protocol.Envelope is not null) w.Line($"msg = ({message.TypeName})Seal(msg);");
                    w.Line("await run.SendAsync(msg).ConfigureAwait(false);");
                    w.Line($"{TranscriptField(message.TypeName)} = msg;");
                    foreach (var action in state.Actions) w.Line(Statement(action.Call));
                    w.Line($"{Go(state.Next)} continue;");
                    break;
                }
                case StateKind.Receive:
                {
                    var timeout = state.TimeoutMs is { } ms ? $"global::System.TimeSpan.FromMilliseconds({ms})" : "null";
                    w.Line($"var received = await run.ReceiveAsync({timeout}).ConfigureAwait(false);");
                    w.Open("switch (received)");
                    foreach (var alternative in state.Alternatives)
                    {
                        var message = protocol.Messages.First(m => m.Name == alternative.Message);
                        w.Open($"case {message.TypeName} msg:");
                        w.Line($"run.Phase = {Binding.Expressions.ExpressionBinder.Literal(alternative.Phase)};");
                        w.Line($"{TranscriptField(message.TypeName)} = msg;");
                        foreach (var check in alternative.Checks)
                        {
                            var constant = protocol.Errors.First(e => e.Code == check.Code).ConstantName;
                            w.Line($"if (!{Value(check.Condition)})");
                            w.Line($"    throw run.Fail({p}ErrorCodes.{constant}, {Binding.Expressions.ExpressionBinder.Literal("Check failed: " + check.Source)});");
                        }
                        foreach (var action in alternative.Actions) w.Line(Statement(action.Call));
                        w.Line($"{Go(alternative.Next)} continue;");
                        w.Close();
                    }
                    foreach (var error in errorMessages)
                    {
                        var code = error.Fields.First(f => f.Name == error.ReportsCode);
                        var detail = error.ReportsDetail is null ? null : error.Fields.First(f => f.Name == error.ReportsDetail);
                        var detailCode = detail is null ? $"err.{code.PropertyName}" : detail.IsNullable ? $"err.{detail.PropertyName} ?? err.{code.PropertyName}" : $"err.{detail.PropertyName}";
                        w.Line($"case {error.TypeName} err:");
                        w.Line($"    throw run.PeerError(err.{code.PropertyName}, {detailCode});");
                    }
                    w.Line("default:");
                    var expected = state.Alternatives.IsEmpty ? "only the peer's error message" : string.Join(" or ", state.Alternatives.Select(a => "'" + a.Message + "'"));
                    w.Line($"    throw run.Unexpected(received, {Binding.Expressions.ExpressionBinder.Literal(expected)});");
                    w.Close();
                    break;
                }
                case StateKind.Succeed:
                    w.Line($"return run.Succeed(new {t}Result");
                    w.Line("{");
                    w.Indent();
                    foreach (var field in role.Outcome)
                        w.Line($"{field.PropertyName} = {(field.Type.Nullable ? ExpressionEmitter.Emit(field.Value) : Value(field.Value))},");
                    w.Outdent();
                    w.Line("});");
                    break;
                case StateKind.Fail:
                {
                    var constant = protocol.Errors.First(e => e.Code == state.FailCode).ConstantName;
                    w.Line($"throw run.Fail({p}ErrorCodes.{constant}, {Binding.Expressions.ExpressionBinder.Literal("The flow ends in failure " + state.FailCode)});");
                    break;
                }
            }
            w.Close();
        }
        w.Line("default:");
        w.Line("    throw new global::System.InvalidOperationException(\"The machine is in state \" + State + \" and cannot run.\");");
        w.Close();
        w.Close();
        w.Close();
        w.Line("catch (global::System.Exception ex)");
        w.Open("");
        w.Line($"State = {t}State.Failed;");
        if (HasEffects(protocol, role))
        {
            w.Line("var error = run.Classify(ex);");
            w.Line("await OnFailureAsync(run, error).ConfigureAwait(false);");
            w.Line($"return await run.FailAsync<{t}Result>(error, ex, CreateErrorMessage).ConfigureAwait(false);");
        }
        else w.Line($"return await run.FailAsync<{t}Result>(ex, CreateErrorMessage).ConfigureAwait(false);");
        w.Close();
        w.Close();
        w.Line();
    }

    private static void EmitErrorFactory(SourceWriter w, ProtocolModel protocol, RoleModel role)
    {
        var p = protocol.TypePrefix;
        w.Summary("The message the spec sends the peer for an error this side raises, or null.");
        w.Open($"private {p}Message? CreateErrorMessage(global::Dsl.Runtime.Handshakes.HandshakeError error)");
        var sending = protocol.Errors.Where(e => e.SendMessage is not null).ToList();
        if (sending.Count > 0)
        {
            w.Open("switch (error.Code)");
            foreach (var error in sending)
            {
                var message = protocol.Messages.First(m => m.Name == error.SendMessage);
                var code = message.Fields.First(f => f.Name == message.ReportsCode);
                w.Line($"case {p}ErrorCodes.{error.ConstantName}:");
                w.Line($"    return {(protocol.Envelope is null ? "" : "Seal(")}new {message.TypeName}");
                w.Line("    {");
                w.Line($"        {code.PropertyName} = error.Code,");
                foreach (var set in error.Set)
                {
                    var field = message.Fields.First(f => f.Name == set.Field);
                    w.Line($"        {set.PropertyName} = {(field.IsNullable ? ExpressionEmitter.Emit(set.Value) : Value(set.Value))},");
                }
                w.Line(protocol.Envelope is null ? "    };" : "    });");
            }
            w.Close();
        }
        w.Line("return null;");
        w.Close();
        w.Line();
    }

    private static bool HasEffects(ProtocolModel protocol, RoleModel role)
        => protocol.Errors.Any(e => e.Actions.Any(a => a.Role == role.Name && !a.Actions.IsEmpty))
           || protocol.FailureActions.Any(a => a.Role == role.Name && !a.Actions.IsEmpty);

    /// <summary>Seals a message in the spec's envelope, and runs the effects of a failure.</summary>
    private static void EmitSealAndEffects(SourceWriter w, ProtocolModel protocol, RoleModel role)
    {
        var p = protocol.TypePrefix;
        if (protocol.Envelope is { } envelope)
        {
            var mine = envelope.Roles.First(r => r.Role == role.Name);
            w.Summary($"Seals a message in its {envelope.Name}: the envelope's fields are computed over the message's canonical JSON.");
            w.Open($"private {p}Message Seal({p}Message message)");
            w.Line($"var payload = {p}Codec.Instance.EncodeCanonicalPayload(message);");
            w.Line($"return message with {{ Envelope = new {envelope.TypeName}");
            w.Line("{");
            w.Indent();
            w.Line("Payload = payload,");
            foreach (var set in mine.Set) w.Line($"{set.PropertyName} = {Value(set.Value)},");
            w.Outdent();
            w.Line("} };");
            w.Close();
            w.Line();
        }
        if (!HasEffects(protocol, role)) return;
        const string ct = "effects.Token";
        w.Summary("Runs the spec's effects of a failure (an error's 'do' for the codes this side raised, then 'on_failure'); best effort, bounded in time.");
        w.Open($"private async global::System.Threading.Tasks.ValueTask OnFailureAsync(global::Dsl.Runtime.Handshakes.HandshakeRun<{p}Message> run, global::Dsl.Runtime.Handshakes.HandshakeError error)");
        w.Line("using var effects = new global::System.Threading.CancellationTokenSource(_options.ErrorDeliveryTimeout, _options.TimeProvider);");
        w.Open("try");
        var coded = protocol.Errors.Where(e => e.Actions.Any(a => a.Role == role.Name && !a.Actions.IsEmpty)).ToList();
        if (coded.Count > 0)
        {
            w.Open("if (!error.RaisedByPeer)");
            w.Open("switch (error.Code)");
            foreach (var error in coded)
            {
                w.Open($"case {p}ErrorCodes.{error.ConstantName}:");
                foreach (var action in error.Actions.First(a => a.Role == role.Name).Actions)
                    w.Line(Statement(action.Call, ct));
                w.Line("break;");
                w.Close();
            }
            w.Close();
            w.Close();
        }
        foreach (var actions in protocol.FailureActions.Where(a => a.Role == role.Name))
        foreach (var action in actions.Actions)
            w.Line(Statement(action.Call, ct));
        w.Close();
        w.Line("catch (global::System.Exception)");
        w.Open("");
        w.Line("// A store that fails or times out here must not change the outcome: the handshake has already failed.");
        w.Close();
        w.Close();
        w.Line();
    }

    private static void EmitTable(SourceWriter w, ProtocolModel protocol, RoleModel role)
    {
        var t = role.TypeName;
        var errorNames = protocol.Messages.Where(m => m.ReportsCode is not null).Select(m => m.Name).ToList();
        w.Summary("The messages this role accepts in <paramref name=\"state\"/> (the peer's error messages are accepted in every waiting state).");
        w.Open($"public static global::System.Collections.Generic.IReadOnlyList<string> PermittedMessages({t}State state)");
        w.Open("switch (state)");
        foreach (var state in role.States.Where(s => s.Kind == StateKind.Receive))
        {
            var names = state.Alternatives.Select(a => a.Message).Concat(errorNames).Select(Binding.Expressions.ExpressionBinder.Literal);
            w.Line($"case {t}State.{state.Name}: return new string[] {{ {string.Join(", ", names)} }};");
        }
        w.Line("default: return global::System.Array.Empty<string>();");
        w.Close();
        w.Close();
        w.Line();
        w.Summary("Whether this role accepts the message named <paramref name=\"messageType\"/> in <paramref name=\"state\"/>.");
        w.Open($"public static bool CanReceive({t}State state, string messageType)");
        w.Line("foreach (var permitted in PermittedMessages(state))");
        w.Line("    if (permitted == messageType) return true;");
        w.Line("return false;");
        w.Close();
        w.Line();

        var stateOf = role.States.ToDictionary(s => s.Id);
        var lines = new List<string> { "stateDiagram-v2", $"    [*] --> {stateOf[role.InitialState].Name}" };
        foreach (var state in role.States)
        {
            switch (state.Kind)
            {
                case StateKind.Send:
                    lines.Add($"    {state.Name} --> {stateOf[state.Next].Name} : send {state.Message}");
                    break;
                case StateKind.Receive:
                    foreach (var alternative in state.Alternatives)
                        lines.Add($"    {state.Name} --> {stateOf[alternative.Next].Name} : receive {alternative.Message}");
                    lines.Add($"    {state.Name} --> Failed : error, timeout or bad message");
                    break;
                case StateKind.Decide:
                    var i = 0;
                    foreach (var branch in state.Branches)
                        lines.Add($"    {state.Name} --> {stateOf[branch.Next].Name} : {(branch.Guard is null ? "otherwise" : "branch " + (++i).ToString(CultureInfo.InvariantCulture))}");
                    break;
                case StateKind.Succeed:
                    lines.Add($"    {state.Name} --> [*]");
                    break;
                case StateKind.Fail:
                    lines.Add($"    {state.Name} --> Failed : {state.FailCode}");
                    break;
            }
        }
        lines.Add("    Failed --> [*]");
        w.Summary("The machine as a Mermaid state diagram.");
        w.Line($"public const string Mermaid = {Binding.Expressions.ExpressionBinder.Literal(string.Join("\n", lines) + "\n")};");
        w.Line();
    }

    private static void EmitHeartbeat(SourceWriter w, ProtocolModel protocol, RoleModel role)
    {
        var p = protocol.TypePrefix;
        var t = role.TypeName;
        var heartbeat = protocol.Heartbeat!;
        var mine = heartbeat.Roles.First(r => r.Role == role.Name);
        var pinger = heartbeat.Pinger == role.Name;
        var ping = protocol.Messages.First(m => m.Name == heartbeat.PingMessage);
        var pong = protocol.Messages.First(m => m.Name == heartbeat.PongMessage);
        var succeeded = string.Join(" or ", role.States.Where(s => s.Kind == StateKind.Succeed).Select(s => $"{t}State.{s.Name}"));

        w.Summary($"Starts the session that follows a successful handshake: the {(pinger ? $"{role.Name} sends '{ping.Name}' every interval" : $"{role.Name} answers each '{ping.Name}' with '{pong.Name}'")}, " +
                  $"and the peer is dropped after {heartbeat.MissedIntervals} intervals of silence. The session owns the transport from now on.");
        w.Line("/// <param name=\"transport\">The transport the handshake ran over.</param>");
        w.Line("/// <param name=\"onMessage\">Receives the application's messages (everything but the heartbeat).</param>");
        w.Line("/// <param name=\"cancellationToken\">Ends the session.</param>");
        w.Open($"public global::Dsl.Runtime.Sessions.HeartbeatSession<{p}Message> StartSession(global::Dsl.Runtime.Transports.IMessageTransport transport, global::System.Func<{p}Message, global::System.Threading.CancellationToken, global::System.Threading.Tasks.ValueTask>? onMessage = null, global::System.Threading.CancellationToken cancellationToken = default)");
        w.Line($"if (State is not ({succeeded}))");
        w.Line("    throw new global::System.InvalidOperationException(\"The session starts after a successful handshake; the machine is in state \" + State + \".\");");
        w.Line($"var interval = global::System.TimeSpan.FromMilliseconds({Value(mine.IntervalMs).Replace("run.CancellationToken", "cancellationToken")});");
        w.Line($"var options = new global::Dsl.Runtime.Sessions.HeartbeatOptions {{ Interval = interval, MissedIntervals = {heartbeat.MissedIntervals}, SendsPings = {(pinger ? "true" : "false")}, TimeProvider = _options.TimeProvider }};");
        w.Line($"var session = new global::Dsl.Runtime.Sessions.HeartbeatSession<{p}Message>(transport, {p}Codec.Instance, new Heartbeat(this), options, onMessage);");
        w.Line("session.Start(cancellationToken);");
        w.Line("return session;");
        w.Close();
        w.Line();

        w.Open($"private sealed class Heartbeat({t} machine) : global::Dsl.Runtime.Sessions.IHeartbeatMessages<{p}Message>");
        if (pinger)
        {
            w.Line($"public {p}Message CreatePing() => machine.CreatePing();");
            w.Line($"public {p}Message? CreatePong({p}Message received) => null;");
        }
        else
        {
            w.Line($"public {p}Message CreatePing() => throw new global::System.InvalidOperationException(\"The {role.Name} does not send '{ping.Name}'.\");");
            w.Line($"public {p}Message? CreatePong({p}Message received) => received is {ping.TypeName} ping ? machine.CreatePong(ping) : null;");
        }
        w.Line($"public bool IsPong({p}Message message) => message is {pong.TypeName};");
        w.Close();
        w.Line();

        var created = pinger ? ping : pong;
        w.Open(pinger ? $"private {ping.TypeName} CreatePing()" : $"private {pong.TypeName} CreatePong({ping.TypeName} ping)");
        w.Line(protocol.Envelope is null ? $"return new {created.TypeName}" : $"return ({created.TypeName})Seal(new {created.TypeName}");
        w.Line("{");
        w.Indent();
        foreach (var set in mine.Set)
        {
            var field = created.Fields.First(f => f.Name == set.Field);
            w.Line($"{set.PropertyName} = {(field.IsNullable ? ExpressionEmitter.Emit(set.Value) : Value(set.Value))},");
        }
        w.Outdent();
        w.Line(protocol.Envelope is null ? "};" : "});");
        w.Close();
    }
}
