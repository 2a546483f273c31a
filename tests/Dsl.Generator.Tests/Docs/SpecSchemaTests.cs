using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Dsl.Generator.Language;
using Dsl.Generator.Syntax;
using Microsoft.CodeAnalysis;
using NJsonSchema;
using NJsonSchema.Validation;
using Xunit;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Dsl.Generator.Tests.Docs;

/// <summary>
/// <c>schema/handshake-spec.schema.json</c> is what editors validate and complete specs with. It must accept every
/// spec in <c>protocols/</c>, refuse wrong ones, and name exactly the keys the parser accepts, with the parser's docs
/// (<c>DSL_ACCEPT_DOCS=1</c> rewrites the descriptions from the key sets; the structure is written by hand).
/// </summary>
public sealed class SpecSchemaTests
{
    private const string SchemaFile = "schema/handshake-spec.schema.json";
    private static readonly string s_schemaPath = Path.Combine(GeneratorHarness.RepoRoot(), SchemaFile);
    private static readonly Lazy<JsonSchema> s_schema = new(() => JsonSchema.FromFileAsync(s_schemaPath).GetAwaiter().GetResult());

    public static IEnumerable<object[]> Specs() =>
        Directory.GetFiles(Path.Combine(GeneratorHarness.RepoRoot(), "protocols"), "*.yaml", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}vectors{Path.DirectorySeparatorChar}"))
            .Select(p => new object[] { Path.GetRelativePath(GeneratorHarness.RepoRoot(), p).Replace('\\', '/') })
            .OrderBy(p => (string)p[0]);

    [Theory]
    [MemberData(nameof(Specs))]
    public void Every_spec_in_protocols_is_valid_and_names_the_schema(string path)
    {
        var full = Path.Combine(GeneratorHarness.RepoRoot(), path);
        var yaml = File.ReadAllText(full);
        var errors = s_schema.Value.Validate(ToJson(yaml));
        Assert.True(errors.Count == 0, $"{path} against {SchemaFile}:\n" + string.Join("\n", errors.Select(e => $"  {e.Path}: {e.Kind} ({e})")));

        // The first line tells editors (the YAML language server) where the schema is, relative to the spec.
        var first = yaml.Replace("\r\n", "\n").Split('\n')[0];
        var match = Regex.Match(first, @"^# yaml-language-server: \$schema=(\S+)$");
        Assert.True(match.Success, $"{path} does not start with '# yaml-language-server: $schema=...'");
        var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(full)!, match.Groups[1].Value));
        Assert.Equal(Path.GetFullPath(s_schemaPath), target);
    }

    // Each mutation makes a seed spec wrong in one way; the schema refuses it, and so does the generator.
    [Theory]
    [InlineData("protocol: ltp\n", "protocl: ltp\n", "an unknown top-level key")]
    [InlineData("timeouts:\n  handshake: 10s\n", "timeouts:\n  handshake: 10 seconds\n", "a duration the parser cannot read")]
    [InlineData("      client_id: { type: string, max_length: 256, doc: Unique client identifier. }", "      client_id: { type: string, max_len: 256 }", "an unknown field key")]
    [InlineData("            phase: resume\n", "            phasee: resume\n", "an unknown step key")]
    [InlineData("    kind: thread_store\n", "    kind: thread_stores\n", "an unknown service kind")]
    [InlineData("    of: uuid\n", "", "a value store without 'of'")]
    [InlineData("  - choice: client\n", "  - choice: client\n    label: 3start\n", "a label that is not a name")]
    [InlineData("    missed: 2\n", "    missed: two\n", "a heartbeat tolerance that is not a number")]
    public void A_wrong_spec_is_refused_by_the_schema_and_by_the_generator(string find, string replace, string what)
    {
        var yaml = GeneratorHarness.ReadRepoFile("protocols/ltp/ltp-0.2.yaml").Replace("\r\n", "\n");
        Assert.Contains(find, yaml);
        var wrong = yaml.Replace(find, replace);

        Assert.NotEmpty(s_schema.Value.Validate(ToJson(wrong)));
        var run = GeneratorHarness.Run(("ltp.yaml", wrong));
        Assert.Contains(run.SpecDiagnostics, d => d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void A_spec_missing_its_flow_is_refused()
    {
        var yaml = GeneratorHarness.ReadRepoFile("protocols/stt/stt-0.2.yaml").Replace("\r\n", "\n");
        var start = yaml.IndexOf("\nflow:\n", StringComparison.Ordinal);
        var end = yaml.IndexOf("\noutcome:\n", StringComparison.Ordinal);
        Assert.True(start > 0 && end > start);
        var errors = Flatten(s_schema.Value.Validate(ToJson(yaml.Remove(start, end - start))));
        Assert.Contains(errors, e => e.Kind == ValidationErrorKind.PropertyRequired && e.Property == "flow");
    }

    [Fact]
    public void An_extension_is_valid_and_its_flow_holds_edits()
    {
        Assert.Empty(s_schema.Value.Validate(ToJson(ExtendsTests.Extension)));
        // An edit names one step, and only an extension's flow holds edits.
        Assert.NotEmpty(s_schema.Value.Validate(ToJson(ExtendsTests.Extension.Replace("  - at: hello", "  - at: hello\n    after: welcome"))));
        Assert.NotEmpty(s_schema.Value.Validate(ToJson(ExtendsTests.Base.Replace("flow:\n", "flow:\n  - at: hello\n"))));
    }

    /// <summary>The errors and those of the subschemas (anyOf, oneOf) they stand for.</summary>
    private static IEnumerable<ValidationError> Flatten(IEnumerable<ValidationError> errors)
        => errors.SelectMany(e => new[] { e }.Concat(e is ChildSchemaValidationError child ? Flatten(child.Errors.SelectMany(c => c.Value)) : Enumerable.Empty<ValidationError>()));

    // Where each key set of the parser is in the schema (a JSON pointer into it).
    private static readonly IReadOnlyDictionary<KeySet, string> s_places = new Dictionary<KeySet, string>
    {
        [ProtocolSyntax.Keys.All] = "",
        [WireSyntax.Keys.All] = "/definitions/wire",
        [FieldSyntax.Keys.Input] = "/definitions/input/anyOf/1",
        [ServiceSyntax.Keys.Common] = "/definitions/service/oneOf/0",
        [HookSyntax.Keys.All] = "/definitions/hook",
        [FieldSyntax.Keys.HookInput] = "/definitions/hookInput/anyOf/1",
        [TypeDeclarationSyntax.Keys.All] = "/definitions/type",
        [EnvelopeSyntax.Keys.All] = "/definitions/envelope",
        [MessageSyntax.Keys.All] = "/definitions/message",
        [FieldSyntax.Keys.Message] = "/definitions/field",
        [ReportsSyntax.Keys.All] = "/definitions/reports",
        [ErrorSyntax.Keys.All] = "/definitions/error",
        [TimeoutsSyntax.Keys.All] = "/definitions/timeouts",
        [MessageStepSyntax.Keys.All] = "/definitions/messageStep",
        [MessageStepSyntax.Keys.RequireItem] = "/definitions/messageStep/properties/require/items/anyOf/1",
        [ChoiceStepSyntax.Keys.All] = "/definitions/choiceStep",
        [BranchSyntax.Keys.All] = "/definitions/branch",
        [GotoStepSyntax.Keys.All] = "/definitions/gotoStep",
        [FailStepSyntax.Keys.All] = "/definitions/failStep",
        [SessionSyntax.Keys.All] = "/definitions/session",
        [ChannelSyntax.KeyNames.All] = "/definitions/channel",
        [ChannelKeysSyntax.Keys.All] = "/definitions/channelKeys",
        [HeartbeatSyntax.Keys.All] = "/definitions/heartbeat",
        [HeartbeatPartSyntax.Keys.All] = "/definitions/heartbeatPart",
        [AcknowledgementSyntax.Keys.All] = "/definitions/acknowledgement",
    };

    [Fact]
    public void The_schema_names_exactly_the_keys_the_parser_accepts_with_its_docs()
    {
        var schema = JsonNode.Parse(File.ReadAllText(s_schemaPath))!.AsObject();
        var problems = new List<string>();
        var accept = Environment.GetEnvironmentVariable("DSL_ACCEPT_DOCS") == "1";

        foreach (var keys in SyntaxKeySets.All)
        {
            Assert.True(s_places.TryGetValue(keys, out var pointer), $"The key set '{keys.Place}' has no place in {SchemaFile}: add it there and to this test");
            if (keys == ServiceSyntax.Keys.Common)
            {
                // A service's keys depend on its kind: one branch of the schema's oneOf per group of kinds.
                foreach (var kind in ServiceKinds.All)
                {
                    var branch = ((JsonArray)Resolve(schema, "/definitions/service/oneOf")).Select(b => b!.AsObject())
                        .SingleOrDefault(b => b["properties"]!["kind"]!["enum"]!.AsArray().Any(k => (string?)k == kind.Name));
                    if (branch is null) { problems.Add($"services: no branch for kind '{kind.Name}'"); continue; }
                    Compare($"services ({kind.Name})", branch, ServiceSyntax.Keys.For(kind), problems, accept,
                        kind.Settings.ToDictionary(s => s.Name, s => Capitalized(s.Doc)));
                }
                continue;
            }
            Compare(keys.Place, Resolve(schema, pointer).AsObject(), keys, problems, accept, null);
        }

        if (accept)
            File.WriteAllText(s_schemaPath, schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
        Assert.True(problems.Count == 0, $"{SchemaFile} and the parser's key sets disagree (DSL_ACCEPT_DOCS=1 rewrites the descriptions; the rest is written by hand):\n" + string.Join("\n", problems));
    }

    private static void Compare(string place, JsonObject node, KeySet keys, List<string> problems, bool accept, Dictionary<string, string>? settingDocs)
    {
        var properties = node["properties"]?.AsObject() ?? new JsonObject();
        var expected = keys.Keys.Where(k => k.Designed is null).ToList();
        var names = properties.Select(p => p.Key).ToHashSet();
        foreach (var key in expected.Where(k => !names.Contains(k.Name))) problems.Add($"{place}: the parser accepts '{key.Name}', the schema does not");
        foreach (var name in names.Where(n => expected.All(k => k.Name != n))) problems.Add($"{place}: the schema accepts '{name}', the parser does not");
        if (node["additionalProperties"] is not JsonValue closed || closed.GetValue<bool>()) problems.Add($"{place}: the schema must refuse other keys (additionalProperties: false)");

        // The top level requires its keys in the branch for a spec on its own; an extension's base gives them.
        var requiredIn = node["required"] is null && node["anyOf"] is JsonArray branches ? branches[1]!.AsObject() : node;
        var required = (requiredIn["required"]?.AsArray().Select(r => (string)r!) ?? Enumerable.Empty<string>()).ToHashSet();
        foreach (var key in expected.Where(k => k.Required != required.Contains(k.Name)))
            problems.Add($"{place}: '{key.Name}' is {(key.Required ? "required" : "optional")} in the parser, not in the schema");

        foreach (var key in expected)
        {
            if (properties[key.Name] is not JsonObject property) continue;
            var doc = settingDocs is not null && settingDocs.TryGetValue(key.Name, out var setting) ? setting : key.Doc;
            if ((string?)property["description"] == doc) continue;
            if (accept) property["description"] = doc;
            else problems.Add($"{place}: '{key.Name}' is described as \"{(string?)property["description"]}\", the parser says \"{doc}\"");
        }
    }

    private static string Capitalized(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text.Substring(1) + ".";

    private static JsonNode Resolve(JsonObject root, string pointer)
    {
        JsonNode node = root;
        foreach (var part in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
            node = node is JsonArray array ? array[int.Parse(part, CultureInfo.InvariantCulture)]! : node[part] ?? throw new InvalidOperationException($"{SchemaFile} has no {pointer}");
        return node;
    }

    /// <summary>The spec as JSON, its plain scalars typed as YAML 1.2's core schema types them (as editors do).</summary>
    internal static string ToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode)?.ToJsonString() ?? "null";
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, Convert(c.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(Convert).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new InvalidOperationException($"Unexpected YAML node {node.NodeType}"),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain) return JsonValue.Create(text);
        if (text is "" or "~" or "null" or "Null" or "NULL") return null;
        if (text is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (text is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (Regex.IsMatch(text, @"^[-+]?[0-9]+$") && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)) return JsonValue.Create(whole);
        if (Regex.IsMatch(text, @"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")) return JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture));
        return JsonValue.Create(text);
    }
}
