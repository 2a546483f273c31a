using System;
using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Binding;
using Dsl.Generator.Language;

namespace Dsl.Cli.Compatibility;

/// <summary>Which peers a change can stop: a receiver of the new version refusing an old sender, or the other way.</summary>
internal enum Impact
{
    /// <summary>Peers of either version still understand each other.</summary>
    None,
    /// <summary>A new receiver may refuse what an old sender sends.</summary>
    NewRefusesOld,
    /// <summary>An old receiver may refuse what a new sender sends.</summary>
    OldRefusesNew,
    /// <summary>Both.</summary>
    Both,
}

/// <summary>One difference between two versions of a spec, and whom it can stop.</summary>
/// <param name="Rule">A stable name for the kind of change (FIELD_ADDED, CHECK_CHANGED, ...).</param>
/// <param name="Where">The message, field or step.</param>
/// <param name="What">What changed, for a reader.</param>
/// <param name="Impact">Whom it can stop.</param>
/// <param name="Receiver">The role that receives what changed (who may refuse); null when both roles are concerned.</param>
internal sealed record Change(string Rule, string Where, string What, Impact Impact, string? Receiver);

/// <summary>
/// Compares two versions of a spec the way <c>buf breaking</c> compares schemas, and on behaviour too: fields
/// (added, removed, retyped, made required or optional, constraints tightened or loosened), messages, the values
/// senders set and the checks receivers make at each step, branches, envelope and wire form, timeouts.
/// </summary>
internal static class SpecDiff
{
    public static IReadOnlyList<Change> Compare(BoundProtocol old, BoundProtocol @new)
    {
        var changes = new List<Change>();
        if (old.Discriminator != @new.Discriminator)
            changes.Add(new Change("WIRE_DISCRIMINATOR", "wire", $"the discriminator is '{@new.Discriminator}', was '{old.Discriminator}'", Impact.Both, null));
        if ((old.Envelope?.Name, old.Wrap) != (@new.Envelope?.Name, @new.Wrap))
            changes.Add(new Change("ENVELOPE", "envelope", "every message travels in another envelope", Impact.Both, null));
        else if (old.Envelope is { } oldEnvelope && @new.Envelope is { } newEnvelope)
            Fields(changes, "envelope", oldEnvelope.Fields, newEnvelope.Fields, null);

        var oldSenders = Senders(old);
        var newSenders = Senders(@new);
        foreach (var message in old.Messages)
        {
            var successor = @new.Messages.FirstOrDefault(m => m.Name == message.Name);
            var receiver = Receiver(old, oldSenders, message.Name);
            if (successor is null)
            {
                changes.Add(new Change("MESSAGE_REMOVED", message.Name, "the message is removed: a new receiver does not expect it from an old sender", Impact.NewRefusesOld, receiver));
                continue;
            }
            if (successor.Wire != message.Wire)
                changes.Add(new Change("MESSAGE_WIRE_NAME", message.Name, $"it travels as '{successor.Wire}', was '{message.Wire}'", Impact.Both, receiver));
            // Which fields sign the rest is not on the wire: the checks over msg.unsigned are what a peer sees (CHECK_*).
            if (!successor.SignatureFields.SequenceEqual(message.SignatureFields))
                changes.Add(new Change("MESSAGE_SIGNATURE", message.Name, successor.SignsItself
                    ? $"the message signs itself with {string.Join(", ", successor.SignatureFields)}" : "the message no longer signs itself", Impact.None, receiver));
            Fields(changes, message.Name, message.Fields, successor.Fields, receiver);
        }
        foreach (var message in @new.Messages.Where(m => old.Messages.All(o => o.Name != m.Name)))
            changes.Add(new Change("MESSAGE_ADDED", message.Name, "a new message: an old receiver does not expect it", Impact.OldRefusesNew, Receiver(@new, newSenders, message.Name)));

        Steps(changes, old, @new);

        foreach (var code in @new.Errors.Where(e => old.Errors.All(o => o.Code != e.Code)))
            changes.Add(new Change("ERROR_ADDED", code.Code, "a new error code", Impact.None, null));
        foreach (var code in old.Errors.Where(e => @new.Errors.All(n => n.Code != e.Code)))
            changes.Add(new Change("ERROR_REMOVED", code.Code, "an error code is gone: an old peer may still report it", Impact.None, null));
        if (@new.HandshakeTimeoutMs < old.HandshakeTimeoutMs)
            changes.Add(new Change("TIMEOUT_SHORTER", "timeouts.handshake", $"{@new.HandshakeTimeoutMs} ms, was {old.HandshakeTimeoutMs} ms: a slow old peer may be cut off", Impact.None, null));
        if (@new.StepTimeoutMs < old.StepTimeoutMs)
            changes.Add(new Change("TIMEOUT_SHORTER", "timeouts.step", $"{@new.StepTimeoutMs} ms, was {old.StepTimeoutMs} ms: a slow old peer may be cut off", Impact.None, null));
        return changes;
    }

    private static void Fields(List<Change> changes, string owner, IReadOnlyList<FieldSymbol> old, IReadOnlyList<FieldSymbol> @new, string? receiver)
    {
        foreach (var field in old)
        {
            var where = owner + "." + field.Name;
            var successor = @new.FirstOrDefault(f => f.Name == field.Name);
            if (successor is null)
            {
                changes.Add(field.Optional
                    ? new Change("FIELD_REMOVED", where, "an optional field is removed", Impact.None, receiver)
                    : new Change("FIELD_REMOVED", where, "a required field is removed: an old receiver refuses a new sender's message without it", Impact.OldRefusesNew, receiver));
                continue;
            }
            if (successor.Type != field.Type || successor.Wire != field.Wire || successor.Encoding != field.Encoding)
            {
                changes.Add(new Change("FIELD_TYPE", where, $"the field is {Spell(successor)}, was {Spell(field)}", Impact.Both, receiver));
                continue;
            }
            if (field.Optional && !successor.Optional)
                changes.Add(new Change("FIELD_REQUIRED", where, "the field becomes required: a new receiver refuses an old sender that leaves it out", Impact.NewRefusesOld, receiver));
            if (!field.Optional && successor.Optional)
                changes.Add(new Change("FIELD_OPTIONAL", where, "the field becomes optional: an old receiver refuses a new sender that leaves it out", Impact.OldRefusesNew, receiver));
            var (tighter, looser) = Compare(field.Constraints, successor.Constraints);
            if (tighter) changes.Add(new Change("FIELD_TIGHTER", where, "its constraints are tighter: a new receiver may refuse an old sender's value", Impact.NewRefusesOld, receiver));
            if (looser) changes.Add(new Change("FIELD_LOOSER", where, "its constraints are looser: an old receiver may refuse a new sender's value", Impact.OldRefusesNew, receiver));
        }
        foreach (var field in @new.Where(f => old.All(o => o.Name != f.Name)))
            changes.Add(field.Optional
                ? new Change("FIELD_ADDED", owner + "." + field.Name, "a new optional field: an old sender leaves it out, an old receiver ignores it", Impact.None, receiver)
                : new Change("FIELD_ADDED", owner + "." + field.Name, "a new required field: a new receiver refuses an old sender's message without it", Impact.NewRefusesOld, receiver));
    }

    private static (bool Tighter, bool Looser) Compare(Constraints old, Constraints @new)
    {
        var tighter = false;
        var looser = false;
        void Lower(long? before, long? after) { if (before != after) { if (after is null || (before is not null && after < before)) looser = true; else tighter = true; } }
        void Upper(long? before, long? after) { if (before != after) { if (after is null || (before is not null && after > before)) looser = true; else tighter = true; } }
        Lower(old.MinLength, @new.MinLength);
        Upper(old.MaxLength, @new.MaxLength);
        Lower(old.Min, @new.Min);
        Upper(old.Max, @new.Max);
        if (old.Pattern != @new.Pattern)
        {
            if (@new.Pattern is not null) tighter = true;
            if (old.Pattern is not null) looser = true;
        }
        if (!old.OneOf.SequenceEqual(@new.OneOf))
        {
            if (@new.OneOf.IsEmpty) looser = true;
            else if (old.OneOf.IsEmpty) tighter = true;
            else
            {
                if (@new.OneOf.Any(v => !old.OneOf.Contains(v))) looser = true;
                if (old.OneOf.Any(v => !@new.OneOf.Contains(v))) tighter = true;
            }
        }
        return (tighter, looser);
    }

    /// <summary>
    /// The message steps of both versions, matched by label, else by sender, message and order: what each sender sets
    /// and each receiver checks. A check compares as bound (spec.version in it is the version's own).
    /// </summary>
    private static void Steps(List<Change> changes, BoundProtocol old, BoundProtocol @new)
    {
        var oldSteps = Keyed(old);
        var newSteps = Keyed(@new);
        foreach (var (key, step) in oldSteps)
        {
            if (!newSteps.TryGetValue(key, out var successor))
            {
                changes.Add(new Change("STEP_REMOVED", key, "the step is gone: a new receiver does not expect the message there", Impact.NewRefusesOld, step.Receiver));
                continue;
            }
            foreach (var set in successor.Set)
            {
                var before = step.Set.FirstOrDefault(s => s.Field == set.Field);
                if (before is null) continue;
                if (before.Value != set.Value)
                    changes.Add(new Change("VALUE_CHANGED", $"{key}: {set.Field}", "the sender sets another value: an old receiver's checks may refuse it", Impact.OldRefusesNew, step.Receiver));
            }
            foreach (var check in successor.Requires.Where(c => !step.Requires.Any(b => b.Code == c.Code && b.Condition == c.Condition)))
            {
                var changed = step.Requires.Any(b => b.Source == check.Source);
                changes.Add(new Change(changed ? "CHECK_CHANGED" : "CHECK_ADDED", key, $"the receiver checks '{check.Source}' else {check.Code}{(changed ? " (the same words, another meaning)" : "")}: an old sender may fail it", Impact.NewRefusesOld, step.Receiver));
            }
        }
        foreach (var (key, step) in newSteps.Where(s => !oldSteps.ContainsKey(s.Key)))
            changes.Add(new Change("STEP_ADDED", key, "a new step: a peer of the old version does not take it", Impact.Both, step.Receiver));
    }

    private static Dictionary<string, MessageNode> Keyed(BoundProtocol protocol)
    {
        var steps = new Dictionary<string, MessageNode>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in protocol.Flow.Nodes.OfType<MessageNode>())
        {
            var arrow = $"{node.Sender} -> {node.Receiver}: {node.Message}";
            counts[arrow] = counts.TryGetValue(arrow, out var seen) ? seen + 1 : 1;
            steps[node.Label is { } label ? $"step '{label}' ({arrow})" : seen == 0 ? arrow : $"{arrow} #{seen + 1}"] = node;
        }
        return steps;
    }

    private static Dictionary<string, string> Senders(BoundProtocol protocol)
    {
        var senders = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in protocol.Flow.Nodes.OfType<MessageNode>()) senders[node.Message] = node.Sender;
        return senders;
    }

    private static string? Receiver(BoundProtocol protocol, Dictionary<string, string> senders, string message)
        => senders.TryGetValue(message, out var sender) ? protocol.Roles.Select(r => r.Name).FirstOrDefault(r => r != sender) : null;

    private static string Spell(FieldSymbol field) => field.Type.Kind switch
    {
        TypeKind.Bytes when field.Type.Length > 0 => $"bytes<{field.Type.Length}>",
        TypeKind.List => $"list<{(field.Type.Name ?? field.Type.Element.ToString().ToLowerInvariant())}>",
        _ => field.Type.Name ?? field.Type.Kind.ToString().ToLowerInvariant(),
    };
}
