using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Diagnostics;
using Dsl.Generator.Language;
using Dsl.Generator.Model;
using Dsl.Generator.Projection;

namespace Dsl.Generator.Analysis;

/// <summary>One security lint: the name an <c>acknowledge</c> entry gives it, and its diagnostic.</summary>
internal sealed record LintDescriptor(string Name, DiagnosticKind Kind);

/// <summary>A lint's finding: where, what it is about (what <c>at</c> names), and the message's arguments.</summary>
internal sealed record LintFinding(LintDescriptor Lint, SourceSpan Span, string Subject, string[] Arguments);

/// <summary>
/// Security lints over the bound tree: what a spec leaves an attacker. Each finding is a warning unless the spec
/// acknowledges it (<c>acknowledge: LINT: reason</c>, or with <c>at</c> naming the findings it covers); an
/// acknowledgement that covers nothing is a warning too, so that none outlives its reason. <c>dsl attack</c> reads the
/// same findings: an acceptance the spec acknowledges is documented, not a violation.
/// </summary>
internal static class SecurityLints
{
    public static readonly LintDescriptor UnprotectedField = new("unprotected_field", DiagnosticTable.UnprotectedField);
    public static readonly LintDescriptor SignatureWithoutFreshness = new("signature_without_freshness", DiagnosticTable.SignatureWithoutFreshness);
    public static readonly LintDescriptor KeyWithoutTranscript = new("key_without_transcript", DiagnosticTable.KeyWithoutTranscript);
    public static readonly LintDescriptor FailureWritesClaim = new("failure_writes_claim", DiagnosticTable.FailureWritesClaim);
    public static readonly LintDescriptor SecretInClear = new("secret_in_clear", DiagnosticTable.SecretInClear);
    public static readonly LintDescriptor LowEntropyKey = new("low_entropy_key", DiagnosticTable.LowEntropyKey);

    /// <summary>Every lint, in one list: the parser's names, the docs and <c>dsl attack</c> read it.</summary>
    public static readonly IReadOnlyList<LintDescriptor> All = new[] { UnprotectedField, SignatureWithoutFreshness, KeyWithoutTranscript, FailureWritesClaim, SecretInClear, LowEntropyKey };

    public static LintDescriptor? Find(string name) => All.FirstOrDefault(l => l.Name == name);

    /// <summary>The diagnostics of <paramref name="protocol"/>'s findings that it does not acknowledge, and of its acknowledgements that cover nothing.</summary>
    public static IEnumerable<SpecDiagnostic> Check(BoundProtocol protocol)
    {
        var findings = Findings(protocol).ToList();
        foreach (var finding in findings.Where(f => Acknowledgement(protocol, f) is null))
            yield return SpecDiagnostic.Create(finding.Lint.Kind, protocol.FilePath, finding.Span, finding.Arguments);
        // An acknowledgement a base wrote may cover nothing in an extension that fixed what it was for: only this file's own are held to it.
        foreach (var acknowledgement in protocol.Acknowledgements.Where(a => a.Span.File is null || a.Span.File == protocol.FilePath))
        {
            var mine = findings.Where(f => f.Lint.Name == acknowledgement.Lint).ToList();
            if (mine.Count == 0)
                yield return SpecDiagnostic.Create(DiagnosticTable.StaleAcknowledgement, protocol.FilePath, acknowledgement.Span, acknowledgement.Lint, "");
            foreach (var subject in acknowledgement.At.Where(a => mine.All(f => f.Subject != a)))
                yield return SpecDiagnostic.Create(DiagnosticTable.StaleAcknowledgement, protocol.FilePath, acknowledgement.Span, acknowledgement.Lint, $" at '{subject}'");
        }
    }

    /// <summary>The acknowledgement that covers <paramref name="finding"/>, if any.</summary>
    public static AcknowledgementSymbol? Acknowledgement(BoundProtocol protocol, LintFinding finding)
        => protocol.Acknowledgements.FirstOrDefault(a => a.Lint == finding.Lint.Name && (a.At.IsEmpty || a.At.Contains(finding.Subject)));

    /// <summary>Every finding of every lint, acknowledged or not.</summary>
    public static IEnumerable<LintFinding> Findings(BoundProtocol protocol)
    {
        var flow = new FlowFacts(protocol);
        foreach (var finding in UnprotectedFields(protocol, flow)) yield return finding;
        foreach (var finding in StaleAuthentications(protocol, flow)) yield return finding;
        foreach (var finding in FailureWrites(protocol)) yield return finding;
        foreach (var finding in KeysWithoutTranscript(protocol, flow)) yield return finding;
        foreach (var finding in SecretsInClear(protocol, flow)) yield return finding;
        foreach (var finding in LowEntropyKeys(protocol, flow)) yield return finding;
    }

    // ---- key_without_transcript -------------------------------------------------------------------

    /// <summary>Each key an outcome derives with nothing of the exchange under it: no transcript, nor values from both roles' messages.</summary>
    private static IEnumerable<LintFinding> KeysWithoutTranscript(BoundProtocol protocol, FlowFacts flow)
    {
        foreach (var role in protocol.Roles)
            foreach (var outcome in role.Outcome.Where(o => o.IsSecret))
            {
                var parts = flow.Closure(outcome.Value).ToList();
                if (!parts.OfType<BoundCall>().Any(c => c.Descriptor.Secret == SecretRule.Yields && c.Descriptor.KeyArgument is not null)) continue;
                if (parts.OfType<BoundCall>().Any(c => c.Function == "transcript")) continue;
                // Both roles' contributions: a value from a message each sent, or the role's own random value beside the peer's.
                var senders = parts.OfType<BoundField>().Select(f => flow.SenderOf(f.Message)).Concat(parts.OfType<BoundEnvelopeField>().Select(f => flow.SenderOf(f.Message)))
                    .Where(r => r is not null).Select(r => r!);
                var contributors = new HashSet<string>(senders);
                if (parts.OfType<BoundCall>().Any(c => c.Function is "random" or "x25519_keypair")) contributors.Add(role.Name);
                if (contributors.Count >= 2) continue;
                yield return new LintFinding(KeyWithoutTranscript, outcome.Span, role.Name + "." + outcome.Name, new[] { role.Name, outcome.Name });
            }
    }

    // ---- secret_in_clear --------------------------------------------------------------------------

    /// <summary>Each message field set from a secret input, or from derived key material, spelled out rather than hashed, MACed, signed or sealed.</summary>
    private static IEnumerable<LintFinding> SecretsInClear(BoundProtocol protocol, FlowFacts flow)
    {
        foreach (var node in protocol.Flow.Nodes.OfType<MessageNode>())
            foreach (var set in node.Set)
                if (flow.Leaks(set.Value) is { } secret)
                    yield return new LintFinding(SecretInClear, set.Span, node.Message + "." + set.Field, new[] { node.Message + "." + set.Field, secret });
    }

    // ---- low_entropy_key --------------------------------------------------------------------------

    /// <summary>Each MAC or cipher keyed by a secret string input (a phrase, a PIN) with no key exchange's secret beside it.</summary>
    private static IEnumerable<LintFinding> LowEntropyKeys(BoundProtocol protocol, FlowFacts flow)
    {
        foreach (var (role, span, expression) in flow.Expressions())
            foreach (var call in flow.Closure(expression).OfType<BoundCall>())
            {
                if (call.Descriptor.KeyArgument is not { } index || call.Descriptor.Secret == SecretRule.Yields) continue;
                var key = flow.Closure(call.Arguments[index]).ToList();
                if (key.OfType<BoundCall>().Any(c => c.Function == "x25519_agree")) continue;
                foreach (var input in key.OfType<BoundInput>().Distinct())
                    if (protocol.Role(input.Role).Inputs.FirstOrDefault(i => i.Name == input.Input) is { Secret: true, Type.Kind: TypeKind.String })
                        yield return new LintFinding(LowEntropyKey, span, input.Role + "." + input.Input, new[] { role, input.Role + "." + input.Input });
            }
    }

    // ---- unprotected_field ------------------------------------------------------------------------

    /// <summary>Each outcome value that comes from a received field no authentication of its receiver covers.</summary>
    private static IEnumerable<LintFinding> UnprotectedFields(BoundProtocol protocol, FlowFacts flow)
    {
        foreach (var role in protocol.Roles)
            foreach (var outcome in role.Outcome)
                foreach (var (message, field) in flow.Fields(outcome.Value).Distinct())
                {
                    if (!flow.Receives(role.Name, message) || flow.Covers(role.Name, message, field)) continue;
                    yield return new LintFinding(UnprotectedField, outcome.Span, message + "." + field,
                        new[] { role.Name, outcome.Name, message + "." + field, role.Name });
                }
    }

    // ---- signature_without_freshness --------------------------------------------------------------

    /// <summary>Each authentication (a verified signature, a MAC, an AEAD opened) of a received message with nothing fresh under it.</summary>
    private static IEnumerable<LintFinding> StaleAuthentications(BoundProtocol protocol, FlowFacts flow)
    {
        foreach (var (role, node, check) in flow.Checks())
            foreach (var call in flow.Authentications(check.Condition))
            {
                var covered = flow.CoveredBy(role, node, call).ToList();
                if (covered.Count == 0 || flow.KeyIsFresh(role, call) || flow.DataIsFresh(role, node, call)) continue;
                foreach (var message in covered.Select(c => c.Message).Distinct())
                    if (!flow.HasFreshField(role, message))
                        yield return new LintFinding(SignatureWithoutFreshness, check.Span, message, new[] { role, message });
            }
    }

    // ---- failure_writes_claim ---------------------------------------------------------------------

    /// <summary>Each effect of a failure that writes a received value to a store that is about peers, not connections.</summary>
    private static IEnumerable<LintFinding> FailureWrites(BoundProtocol protocol)
    {
        var effects = protocol.FailureEffects.Select(e => (Code: "any failure", Effects: e))
            .Concat(protocol.Errors.SelectMany(e => e.Effects.Select(x => (Code: e.Code, Effects: x))));
        foreach (var (code, roleEffects) in effects)
            foreach (var effect in roleEffects.Calls)
            {
                if (effect.Call is not BoundServiceCall call) continue;
                var service = protocol.Services.FirstOrDefault(s => s.Name == call.Service);
                if (service is null || service.Descriptor.CountsAgainstConnection) continue;
                var claims = call.Arguments.SelectMany(RoleProjector.References).OfType<BoundField>().Select(f => f.Message + "." + f.Field).Distinct().ToList();
                if (claims.Count == 0) continue;
                yield return new LintFinding(FailureWritesClaim, effect.Span, service.Name,
                    new[] { roleEffects.Role, code, string.Join(", ", claims), service.Name });
            }
    }

    /// <summary>What the lints need to know about a flow: who receives what, what each role checks, and what those checks cover.</summary>
    private sealed class FlowFacts
    {
        private readonly BoundProtocol _protocol;
        private readonly Dictionary<int, LetSymbol> _lets;

        public FlowFacts(BoundProtocol protocol)
        {
            _protocol = protocol;
            _lets = new Dictionary<int, LetSymbol>();
            foreach (var let in protocol.Flow.Lets) _lets[let.Id] = let;
            foreach (var node in protocol.Flow.Nodes.OfType<MessageNode>())
            {
                foreach (var let in node.Lets) _lets[let.Id] = let;
                foreach (var positioned in node.ReceiverLets) _lets[positioned.Let.Id] = positioned.Let;
            }
        }

        private IEnumerable<MessageNode> Nodes => _protocol.Flow.Nodes.OfType<MessageNode>();

        public bool Receives(string role, string message) => Nodes.Any(n => n.Message == message && n.Receiver == role);

        public string? SenderOf(string message) => Nodes.FirstOrDefault(n => n.Message == message)?.Sender;

        /// <summary>Every expression a role evaluates, with where it is written: lets, sets, checks, outcomes.</summary>
        public IEnumerable<(string Role, SourceSpan Span, BoundExpression Expression)> Expressions()
        {
            foreach (var node in Nodes)
            {
                foreach (var let in node.Lets) yield return (node.Sender, let.Span, let.Value);
                foreach (var set in node.Set) yield return (node.Sender, set.Span, set.Value);
                foreach (var check in node.Ensures) yield return (node.Sender, check.Span, check.Condition);
                foreach (var positioned in node.ReceiverLets) yield return (node.Receiver, positioned.Let.Span, positioned.Let.Value);
                foreach (var check in node.Requires) yield return (node.Receiver, check.Span, check.Condition);
            }
            foreach (var role in _protocol.Roles)
                foreach (var outcome in role.Outcome) yield return (role.Name, outcome.Span, outcome.Value);
        }

        /// <summary>The secret an expression spells out, if any: a secret input, or key material a derivation yields, through lets, encodings and concatenations.</summary>
        public string? Leaks(BoundExpression expression) => Leaks(expression, 0);

        private string? Leaks(BoundExpression expression, int depth)
        {
            if (depth > 64) return null;
            switch (expression)
            {
                case BoundInput input when _protocol.Role(input.Role).Inputs.FirstOrDefault(i => i.Name == input.Input) is { Secret: true }:
                    return $"the secret input '{input.Role}.{input.Input}'";
                case BoundLet let when _lets.TryGetValue(let.LetId, out var symbol):
                    return Leaks(symbol.Value, depth + 1);
                case BoundCall { Descriptor.Secret: SecretRule.Yields } call:
                    return $"key material ({call.Function})";
                case BoundCall call when call.Descriptor.Encodes || call.Descriptor.Secret == SecretRule.Preserves:
                    return call.Arguments.Select(a => Leaks(a, depth + 1)).FirstOrDefault(l => l is not null);
                case BoundConditional conditional:
                    return Leaks(conditional.Then, depth + 1) ?? Leaks(conditional.Else, depth + 1);
                case BoundBinary { Operator: BinaryOperator.Coalesce or BinaryOperator.Plus } binary:
                    return Leaks(binary.Left, depth + 1) ?? Leaks(binary.Right, depth + 1);
                case BoundMember member:
                    return Leaks(member.Target, depth + 1);
                case BoundList list:
                    return list.Items.Select(i => Leaks(i, depth + 1)).FirstOrDefault(l => l is not null);
                case BoundObject obj:
                    return obj.Fields.Select(f => Leaks(f.Value, depth + 1)).FirstOrDefault(l => l is not null);
                default:
                    return null;
            }
        }

        /// <summary>Each check a role runs: the requires of what it receives, the ensures of what it sends, the envelope's.</summary>
        public IEnumerable<(string Role, MessageNode? Node, BoundCheck Check)> Checks()
        {
            foreach (var node in Nodes)
            {
                foreach (var check in node.Requires) yield return (node.Receiver, node, check);
                foreach (var check in node.Ensures) yield return (node.Sender, node, check);
            }
            foreach (var role in _protocol.Envelope?.Checks ?? EquatableArray<RoleChecks>.Empty)
                foreach (var check in role.Checks) yield return (role.Role, null, check);
        }

        /// <summary>An expression and every let it reads, followed to their values.</summary>
        public IEnumerable<BoundExpression> Closure(BoundExpression expression)
        {
            var seen = new HashSet<int>();
            var pending = new Stack<BoundExpression>();
            pending.Push(expression);
            while (pending.Count > 0)
            {
                var next = pending.Pop();
                yield return next;
                foreach (var child in next.Children) pending.Push(child);
                if (next is BoundLet let && seen.Add(let.LetId) && _lets.TryGetValue(let.LetId, out var symbol)) pending.Push(symbol.Value);
            }
        }

        /// <summary>The message fields an expression reads, through lets.</summary>
        public IEnumerable<(string Message, string Field)> Fields(BoundExpression expression)
            => Closure(expression).OfType<BoundField>().Select(f => (f.Message, f.Field));

        /// <summary>The authenticating calls an expression makes, through lets.</summary>
        public IEnumerable<BoundCall> Authentications(BoundExpression expression)
            => Closure(expression).OfType<BoundCall>().Where(c => c.Descriptor.AuthenticatesArgument is not null);

        /// <summary>What an authenticating call covers: whole messages (Field null) or single fields.</summary>
        public IEnumerable<(string Message, string? Field)> CoveredBy(string role, MessageNode? node, BoundCall call)
        {
            var data = call.Arguments[call.Descriptor.AuthenticatesArgument!.Value];
            foreach (var part in Closure(data))
                switch (part)
                {
                    case BoundEnvelopeField { Field: null or Naming.UnsignedName } envelope:
                        foreach (var message in Expand(role, envelope.Message, node)) yield return (message, null);
                        break;
                    case BoundMessageUnsigned unsigned:
                        yield return (unsigned.Message, null);
                        break;
                    case BoundField field:
                        yield return (field.Message, field.Field);
                        break;
                    case BoundCall { Function: "transcript" }:
                        // The messages exchanged before the step that reads it.
                        foreach (var earlier in Nodes.Where(n => node is null || n.Id < node.Id).Where(n => n.Receiver == role))
                            yield return (earlier.Message, null);
                        break;
                }
        }

        /// <summary>An envelope check's message is any message the role receives.</summary>
        private IEnumerable<string> Expand(string role, string message, MessageNode? node)
            => message == "*" ? Nodes.Where(n => n.Receiver == role).Select(n => n.Message).Distinct() : new[] { message };

        /// <summary>
        /// Whether some authentication the role runs covers the field (or its whole message), or a check pins the field
        /// to a value the role computes without that message (a session id recomputed from the transcript).
        /// </summary>
        public bool Covers(string role, string message, string field)
            => Checks().Where(c => c.Role == role).Any(c =>
                Authentications(c.Check.Condition).Any(call => CoveredBy(role, c.Node, call).Any(covered => covered.Message == message && (covered.Field is null || covered.Field == field)))
                || Closure(c.Check.Condition).OfType<BoundBinary>().Any(equal => equal.Operator == BinaryOperator.Equal
                    && (Is(equal.Left, message, field) && !Reads(equal.Right, message) || Is(equal.Right, message, field) && !Reads(equal.Left, message))));

        private static bool Is(BoundExpression expression, string message, string field) => expression is BoundField f && f.Message == message && f.Field == field;

        /// <summary>Whether the call's key is fresh: derived from an exchange this handshake made (an ephemeral key agreement).</summary>
        public bool KeyIsFresh(string role, BoundCall call)
            => Closure(call.Arguments[0]).Any(e => e is BoundCall { Function: "x25519_agree" or "x25519_keypair" } || SentBy(e, role));

        /// <summary>Whether the authenticated data holds something the role made fresh itself: a random value of its own, or the transcript of a handshake it contributed to.</summary>
        public bool DataIsFresh(string role, MessageNode? node, BoundCall call)
        {
            var data = Closure(call.Arguments[call.Descriptor.AuthenticatesArgument!.Value]).ToList();
            if (data.OfType<BoundCall>().Any(c => c.Function == "random") || data.Any(e => SentBy(e, role))) return true;
            // The transcript holds what this role sent before: fresh when that carried a random value of its own.
            if (data.OfType<BoundCall>().Any(c => c.Function == "transcript"))
                return Nodes.Any(n => n.Sender == role && (node is null || n.Id < node.Id) && n.Set.Any(a => Closure(a.Value).OfType<BoundCall>().Any(c => c.Function is "random" or "x25519_keypair" or "x25519_public")));
            return false;
        }

        /// <summary>
        /// Whether the role checks a field of the message for freshness: a timestamp within the skew (<c>fresh</c>), a
        /// value a cache remembers (a service question answered otherwise after being asked), or an echo of a value the
        /// role itself sent.
        /// </summary>
        public bool HasFreshField(string role, string message)
        {
            foreach (var (checker, node, check) in Checks())
            {
                if (checker != role) continue;
                foreach (var part in Closure(check.Condition))
                {
                    if (part is BoundCall { Function: "fresh" } fresh && fresh.Arguments.Any(a => Reads(a, message))) return true;
                    if (part is BoundServiceCall service && service.Descriptor.AnsweredOtherwiseAfter == service.Method && service.Arguments.Any(a => Reads(a, message))) return true;
                    if (part is BoundBinary { Operator: BinaryOperator.Equal } equal
                        && (Reads(equal.Left, message) && SentBy(equal.Right, role) || Reads(equal.Right, message) && SentBy(equal.Left, role)))
                        return true;
                }
            }
            return false;
        }

        private bool Reads(BoundExpression expression, string message)
            => Closure(expression).Any(e => e is BoundField f && (f.Message == message || f.Source == MessageSource.Current && message == "*")
                                          || e is BoundEnvelopeField ef && (ef.Message == message || ef.Message == "*"));

        /// <summary>Whether the expression reads a field of a message the role sent (its own challenge, echoed back).</summary>
        private bool SentBy(BoundExpression expression, string role)
            => (expression is BoundField ? new[] { expression } : Closure(expression)).OfType<BoundField>().Any(f => Nodes.Any(n => n.Message == f.Message && n.Sender == role && n.Set.Any(a => a.Field == f.Field
                   && Closure(a.Value).OfType<BoundCall>().Any(c => c.Function is "random" or "x25519_public"))));
    }
}
