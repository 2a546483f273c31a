using System.Collections.Generic;
using System.Linq;

namespace Dsl.Generator.Syntax;

/// <summary>A key a construct accepts: its name, whether it is required, and what it means.</summary>
internal sealed class SyntaxKey
{
    private SyntaxKey(string name, bool required, string doc, string? designed)
    {
        Name = name;
        Required = required;
        Doc = doc;
        Designed = designed;
    }

    public string Name { get; }

    /// <summary>Missing is DSL005.</summary>
    public bool Required { get; }

    public string Doc { get; }

    /// <summary>For a key of the language's design that the generator does not implement yet: what to do meanwhile (DSL110).</summary>
    public string? Designed { get; }

    public static SyntaxKey Optional(string name, string doc) => new(name, false, doc, null);

    public static SyntaxKey Mandatory(string name, string doc) => new(name, true, doc, null);

    public static SyntaxKey NotImplemented(string name, string why) => new(name, false, why, why);

    public override string ToString() => Name;
}

/// <summary>
/// The keys one construct accepts, in one place: the parser reads a construct's mapping only through its key
/// set, so DSL002 (an unknown key), DSL005 (a missing one) and the docs' key index cannot disagree with it.
/// </summary>
internal sealed class KeySet
{
    public KeySet(string place, params SyntaxKey[] keys)
    {
        Place = place;
        Keys = keys;
    }

    /// <summary>Where the construct is, as the docs' key index names it (<c>messages.NAME</c>).</summary>
    public string Place { get; }

    public IReadOnlyList<SyntaxKey> Keys { get; }

    /// <summary>Keys that are not fixed names, with their spelling for docs and DSL002 (<c>ROLE -&gt; ROLE</c>).</summary>
    public string? DynamicKey { get; init; }

    /// <summary>Whether a key that is not one of <see cref="Keys"/> is this construct's dynamic key.</summary>
    public System.Func<string, bool>? IsDynamicKey { get; init; }

    public bool Contains(SyntaxKey key) => Keys.Contains(key);

    public SyntaxKey? Find(string name) => Keys.FirstOrDefault(k => k.Name == name);

    /// <summary>The keys as DSL002 lists them.</summary>
    public string Expected => string.Join(", ", (DynamicKey is null ? Enumerable.Empty<string>() : new[] { DynamicKey })
        .Concat(Keys.Where(k => k.Designed is null).Select(k => k.Name)));
}
