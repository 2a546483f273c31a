using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Dsl.Generator.Emit;
using Dsl.Generator.Language;
using Dsl.Generator.Syntax;
using Xunit;

namespace Dsl.Generator.Tests.Docs;

/// <summary>
/// The tables of docs/spec-language.md that list the language's types, built-ins, service kinds and keys are
/// rendered from the generator's own descriptors and key sets, between <c>&lt;!-- generated: NAME --&gt;</c> markers.
/// This test fails when they drift; <c>DSL_ACCEPT_DOCS=1 dotnet test tests/Dsl.Generator.Tests</c> rewrites them.
/// </summary>
public sealed class LanguageReferenceTests
{
    private static readonly string s_path = Path.Combine(GeneratorHarness.RepoRoot(), "docs", "spec-language.md");

    public static IEnumerable<object[]> Sections() => new[] { "types", "builtins", "services", "keys" }.Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Sections))]
    public void The_reference_table_matches_the_descriptors(string section)
    {
        var rendered = section switch
        {
            "types" => Types(),
            "builtins" => Functions(),
            "services" => Services(),
            _ => Keys(),
        };
        var text = File.ReadAllText(s_path).Replace("\r\n", "\n");
        var pattern = new Regex($"(<!-- generated: {section} -->\n)(.*?)(<!-- end: {section} -->)", RegexOptions.Singleline);
        var match = pattern.Match(text);
        Assert.True(match.Success, $"docs/spec-language.md has no '<!-- generated: {section} -->' ... '<!-- end: {section} -->' block");
        if (Environment.GetEnvironmentVariable("DSL_ACCEPT_DOCS") == "1")
        {
            File.WriteAllText(s_path, pattern.Replace(text, m => m.Groups[1].Value + rendered + m.Groups[3].Value));
            return;
        }
        Assert.True(match.Groups[2].Value == rendered,
            $"The '{section}' table of docs/spec-language.md differs from the descriptors; rerun with DSL_ACCEPT_DOCS=1 and read the diff.\nExpected:\n{rendered}");
    }

    private static string CSharpName(TypeRef type) => CSharp.Type(type).Replace("global::", "").Replace("System.Collections.Generic.", "");

    private static string Types()
    {
        var text = new StringBuilder("| spec type | C# type | JSON | notes |\n| --- | --- | --- | --- |\n");
        foreach (var type in ValueTypes.All.Where(t => t.Allows(TypePlaces.Message)))
        {
            if (type.Kind == TypeKind.List)
            {
                foreach (var element in ValueTypes.All.Where(e => e.Allows(TypePlaces.ListElement) && !e.Declared))
                {
                    var list = TypeRef.ListOf(element.Kind);
                    text.Append($"| `{list}` | `{CSharpName(list)}` | {element.ListWire} | |\n");
                }
                text.Append("| `list<TYPE>` | `IReadOnlyList<TYPE>` | array of objects, or of strings for an enum | `TYPE` declared under `types`; `list<object>` and `list<enum>` declare one inline |\n");
                continue;
            }
            if (type.Declared)
            {
                text.Append($"| `{type.Name}` | a generated {(type.Kind == TypeKind.Enum ? "enum" : "record")}, named after the type | {type.Wire} | {type.Doc} |\n");
                continue;
            }
            var typeRef = new TypeRef(type.Kind);
            text.Append($"| `{type.Name}` | `{CSharpName(typeRef)}` | {type.Wire} | {type.Doc} |\n");
            if (type.Parametric is { } parametric) text.Append($"| `{parametric}` | `{CSharpName(typeRef)}` | as `{type.Name}` | {type.ParametricDoc} |\n");
        }
        text.Append("\nInputs may also be:\n\n| spec type | C# type | notes |\n| --- | --- | --- |\n");
        foreach (var type in ValueTypes.All.Where(t => t.Allows(TypePlaces.Input) && !t.Allows(TypePlaces.Message)))
            text.Append($"| `{type.Name}` | `{CSharpName(new TypeRef(type.Kind))}` | {type.Doc} |\n");
        return text.ToString();
    }

    private static string Functions()
    {
        var text = new StringBuilder("| function | parameters | result | meaning |\n| --- | --- | --- | --- |\n");
        foreach (var function in Builtins.All)
            text.Append($"| `{function.Signature}` | {function.ParametersDoc} | {function.ResultDoc} | {function.Doc} |\n");
        return text.ToString();
    }

    private static string Type(TypeRef type) => type.Kind == TypeKind.Null ? "`T`" : $"`{type}`";

    private static string Services()
    {
        var text = new StringBuilder();
        foreach (var kind in ServiceKinds.All)
        {
            text.Append($"**`{kind.Name}`**: {kind.Doc} Runtime interface: `{kind.RuntimeInterface.Replace("global::", "")}{(kind.Generic ? "<T>" : "")}`.");
            if (kind.Generic) text.Append(" `T` is the service's `of`.");
            if (kind.Settings.Count > 0)
                text.Append(" Settings: " + string.Join("; ", kind.Settings.Select(s => $"`{s.Name}` ({(s.Kind == SettingKind.Duration ? "a duration" : "a positive whole number")}), {s.Doc}")) + ".");
            text.Append("\n\n| method | parameters | result |\n| --- | --- | --- |\n");
            foreach (var method in kind.Methods)
            {
                var parameters = method.Parameters.Count == 0 ? "none" : string.Join(", ", method.Parameters.Select(p => Type(p.Type.Exact!)));
                var result = method.ReturnsNothing ? $"nothing: {method.Doc}" : $"{Type(method.Result)}: {method.Doc}";
                if (method.AbsentWhen is { } absent) result += $"; **absent** {absent}";
                text.Append($"| `{method.Name}({string.Join(", ", method.Parameters.Select(p => p.Name))})` | {parameters} | {result} |\n");
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    private static string Keys()
    {
        var text = new StringBuilder("| place | keys |\n| --- | --- |\n");
        foreach (var keys in SyntaxKeySets.All)
        {
            var names = (keys.DynamicKey is null ? Enumerable.Empty<string>() : new[] { $"`{keys.DynamicKey}`" })
                .Concat(keys.Keys.Where(k => k.Designed is null).Select(k => $"`{k.Name}`"));
            var row = string.Join(", ", names);
            if (keys == ServiceSyntax.Keys.Common)
                row += "; " + string.Join("; ", ServiceKinds.All.Where(k => k.Generic || k.Settings.Count > 0).Select(k =>
                    string.Join(", ", (k.Generic ? new[] { "of" } : new string[0]).Concat(k.Settings.Select(s => s.Name)).Select(n => $"`{n}`")) + $" for `{k.Name}`"));
            var designed = keys.Keys.Where(k => k.Designed is not null).Select(k => $"`{k.Name}`").ToList();
            if (designed.Count > 0) row += $" (and the reserved {string.Join(", ", designed)}, which report [DSL110](diagnostics/DSL110.md))";
            text.Append($"| {keys.Place} | {row} |\n");
        }
        return text.ToString();
    }
}
