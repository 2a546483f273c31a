using System;
using System.Collections.Generic;
using System.Linq;
using Dsl.Generator.Syntax;

namespace Dsl.Generator.Binding;

/// <summary>
/// What holds on one path through the flow, as a set of bits: which messages have been exchanged, which lets
/// evaluated, and which presence facts a role has proven (<c>x != null</c> in a check or a guard it passed).
/// The flow binder computes, for every point of the flow, the distinct sets its paths can arrive with; a value is
/// present at a point exactly when it is on every one of them.
/// </summary>
internal readonly struct PathFacts : IEquatable<PathFacts>
{
    private readonly ulong[] _words;

    private PathFacts(ulong[] words) => _words = words;

    public static PathFacts Empty(int bits) => new(new ulong[(bits + 63) / 64 + 1]);

    public bool Has(int bit) => (bit >> 6) < _words.Length && (_words[bit >> 6] & (1UL << (bit & 63))) != 0;

    public PathFacts With(int bit)
    {
        if (Has(bit)) return this;
        var words = (ulong[])_words.Clone();
        words[bit >> 6] |= 1UL << (bit & 63);
        return new PathFacts(words);
    }

    public PathFacts Without(IEnumerable<int> bits)
    {
        ulong[]? words = null;
        foreach (var bit in bits)
        {
            if (!Has(bit) && words is null) continue;
            words ??= (ulong[])_words.Clone();
            words[bit >> 6] &= ~(1UL << (bit & 63));
        }
        return words is null ? this : new PathFacts(words);
    }

    /// <summary>The bits set in both.</summary>
    public PathFacts Intersect(PathFacts other)
    {
        var words = (ulong[])_words.Clone();
        for (var i = 0; i < words.Length; i++) words[i] &= other._words[i];
        return new PathFacts(words);
    }

    /// <summary>The bits set in either.</summary>
    public PathFacts Union(PathFacts other)
    {
        var words = (ulong[])_words.Clone();
        for (var i = 0; i < words.Length; i++) words[i] |= other._words[i];
        return new PathFacts(words);
    }

    public bool Equals(PathFacts other) => _words.AsSpan().SequenceEqual(other._words);

    public override bool Equals(object? obj) => obj is PathFacts other && Equals(other);

    public override int GetHashCode()
    {
        var hash = 17;
        foreach (var word in _words) hash = unchecked(hash * 31 + word.GetHashCode());
        return hash;
    }
}

/// <summary>The distinct path sets that can reach one point; at most 64 (beyond, merged conservatively).</summary>
internal sealed class PathSet
{
    public const int Limit = 64;

    private PathSet(IReadOnlyList<PathFacts> paths) => Paths = paths;

    public IReadOnlyList<PathFacts> Paths { get; }

    public int Count => Paths.Count;

    /// <summary>A mask with one bit per path.</summary>
    public ulong All => Count >= 64 ? ulong.MaxValue : (1UL << Count) - 1;

    public static PathSet Of(IEnumerable<PathFacts> paths)
    {
        var distinct = paths.Distinct().ToList();
        if (distinct.Count <= Limit) return new PathSet(distinct);
        // More paths than a mask can follow: keep what holds on all of them, and what holds on some (sound, less precise).
        var all = distinct.Aggregate((a, b) => a.Intersect(b));
        var any = distinct.Aggregate((a, b) => a.Union(b));
        return new PathSet(new[] { all, any }.Distinct().ToList());
    }

    public PathSet Select(Func<PathFacts, PathFacts> transform) => Of(Paths.Select(transform));

    /// <summary>The mask of the paths on which <paramref name="bit"/> is set.</summary>
    public ulong Where(int bit)
    {
        ulong mask = 0;
        for (var i = 0; i < Paths.Count; i++)
            if (Paths[i].Has(bit)) mask |= 1UL << i;
        return mask;
    }
}

/// <summary>What a presence test can be about.</summary>
internal enum NarrowKind { Let, Field, Input }

/// <summary>What a presence test is about: a let, a field of a message, or an input.</summary>
internal sealed record NarrowTarget(NarrowKind Kind, string Name, string Member)
{
    public static NarrowTarget Let(string name) => new(NarrowKind.Let, name, "");

    public static NarrowTarget Field(string message, string field) => new(NarrowKind.Field, message, field);

    public static NarrowTarget Input(string name) => new(NarrowKind.Input, name, "");
}

/// <summary>
/// The bits of <see cref="PathFacts"/>: one per message, one per let, one per presence fact a role can prove.
/// Allocated before the dataflow, from the flow's declarations and the syntax of every check and guard.
/// </summary>
internal sealed class FactTable
{
    private readonly Dictionary<string, int> _messages = new();
    private readonly Dictionary<int, int> _lets = new();
    private readonly Dictionary<(string Role, NarrowTarget Target), int> _facts = new();
    private readonly Dictionary<string, List<int>> _factsByMessage = new();
    private readonly Dictionary<string, List<int>> _factsByLet = new();

    public int Count { get; private set; }

    public int Message(string name) => Allocate(_messages, name);

    public int Let(int letId) => Allocate(_lets, letId);

    /// <summary>The bit of the fact "<paramref name="role"/> has proven <paramref name="target"/> present", allocating it.</summary>
    public int Presence(string role, NarrowTarget target)
    {
        if (_facts.TryGetValue((role, target), out var bit)) return bit;
        _facts[(role, target)] = bit = Count++;
        if (target.Kind == NarrowKind.Field) Add(_factsByMessage, target.Name, bit);
        if (target.Kind == NarrowKind.Let) Add(_factsByLet, role + "\u0001" + target.Name, bit);
        return bit;
    }

    /// <summary>The bit of a presence fact, if any check or guard can prove it.</summary>
    public int? Find(string role, NarrowTarget target) => _facts.TryGetValue((role, target), out var bit) ? bit : null;

    /// <summary>Facts about the fields of a message: a new instance of it forgets them.</summary>
    public IReadOnlyList<int> FactsAboutMessage(string message) => _factsByMessage.TryGetValue(message, out var bits) ? bits : new List<int>();

    /// <summary>Facts about a let: evaluating it again forgets them.</summary>
    public IReadOnlyList<int> FactsAboutLet(string owner, string name) => _factsByLet.TryGetValue(owner + "\u0001" + name, out var bits) ? bits : new List<int>();

    private int Allocate<TKey>(Dictionary<TKey, int> bits, TKey key)
    {
        if (!bits.TryGetValue(key, out var bit)) bits[key] = bit = Count++;
        return bit;
    }

    private static void Add(Dictionary<string, List<int>> index, string key, int bit)
    {
        if (!index.TryGetValue(key, out var list)) index[key] = list = new List<int>();
        list.Add(bit);
    }

    /// <summary>
    /// The targets a condition proves present when it holds (<paramref name="holds"/>) or when it does not:
    /// <c>x != null</c> and <c>null != x</c>, the terms of a top-level <c>&amp;&amp;</c>, and through <c>!</c>
    /// and <c>||</c> (a false <c>a || b</c> makes both false) the same for <c>x == null</c>.
    /// </summary>
    public static IEnumerable<NarrowTarget> ProvenPresent(ExprSyntax condition, bool holds, string? currentMessage, Func<string, bool> isMessage)
    {
        switch (condition)
        {
            case BinarySyntax { Operator: "&&" } conjunction when holds:
                return ProvenPresent(conjunction.Left, true, currentMessage, isMessage).Concat(ProvenPresent(conjunction.Right, true, currentMessage, isMessage));
            case BinarySyntax { Operator: "||" } disjunction when !holds:
                return ProvenPresent(disjunction.Left, false, currentMessage, isMessage).Concat(ProvenPresent(disjunction.Right, false, currentMessage, isMessage));
            case UnarySyntax { Operator: "!" } negation:
                return ProvenPresent(negation.Operand, !holds, currentMessage, isMessage);
            case BinarySyntax { Operator: "!=" or "==" } test when (test.Operator == "!=") == holds:
            {
                var operand = test.Right is LiteralSyntax { Kind: LiteralKind.Null } ? test.Left
                    : test.Left is LiteralSyntax { Kind: LiteralKind.Null } ? test.Right : null;
                return operand is not null && TargetOf(operand, currentMessage, isMessage) is { } target ? new[] { target } : Enumerable.Empty<NarrowTarget>();
            }
            default:
                return Enumerable.Empty<NarrowTarget>();
        }
    }

    /// <summary>The let, field or input an expression names, if it is one.</summary>
    public static NarrowTarget? TargetOf(ExprSyntax expression, string? currentMessage, Func<string, bool> isMessage) => expression switch
    {
        NameSyntax name => NarrowTarget.Let(name.Name),
        MemberSyntax { Target: NameSyntax { Name: "self" } } input => NarrowTarget.Input(input.Member),
        MemberSyntax { Target: NameSyntax { Name: "msg" } } field when currentMessage is not null => NarrowTarget.Field(currentMessage, field.Member),
        MemberSyntax { Target: NameSyntax message } field when isMessage(message.Name) => NarrowTarget.Field(message.Name, field.Member),
        _ => null,
    };
}
