using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Xunit;

namespace Dsl.Cli.Tests;

/// <summary>The repository this test runs in.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Dsl.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Dsl.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>The command reads and prints paths relative to the current folder, which one test changes: they run one at a time.</summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class CommandLine
{
    public const string Collection = "dsl command";
}

/// <summary>The dsl command as a user runs it, with its output redirected (plain text, no colour).</summary>
[Collection(CommandLine.Collection)]
public sealed class CliTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("dsl-cli-test-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { }
    }


    private static async Task<(int Exit, string Output)> Dsl(params string[] args)
    {
        var output = new StringWriter();
        var exit = await Program.RunAsync(args, output, interactive: false);
        return (exit, output.ToString());
    }

    [Fact]
    public async Task Check_passes_the_protocols_and_lists_what_extensions_change()
    {
        var (exit, output) = await Dsl("check", Path.Combine(Repository.Root, "protocols"));
        Assert.Equal(0, exit);
        Assert.Contains("6 spec(s) checked: 0 error(s)", output);
        Assert.Contains("info DSL406: Extends 'ltp-0.2.yaml': version 0.2 becomes 0.3", output);
        Assert.DoesNotContain("\u001b[", output);
    }

    [Fact]
    public async Task Check_reports_a_mistake_with_its_line_column_and_a_help_page_that_exists_and_exits_1()
    {
        var spec = Path.Combine(_work, "ltp.yaml");
        File.WriteAllText(spec, File.ReadAllText(Path.Combine(Repository.Root, "protocols", "ltp", "ltp-0.2.yaml")).Replace("msg.client_id != \"\"", "msg.clent_id != \"\""));
        var (exit, output) = await Dsl("check", spec);
        Assert.Equal(1, exit);
        var line = Regex.Match(output, @"ltp\.yaml\((\d+),(\d+)\): error DSL203: 'handshake_\w+' has no member 'clent_id' \((file://\S+)\)");
        Assert.True(line.Success, output);
        var yaml = File.ReadAllLines(spec);
        Assert.Contains("msg.clent_id", yaml[int.Parse(line.Groups[1].Value) - 1]);
        Assert.StartsWith("# DSL203", File.ReadAllText(new Uri(line.Groups[3].Value).LocalPath));
        Assert.Contains("1 spec(s) checked: 2 error(s)", output);
    }

    [Fact]
    public async Task Check_finds_the_base_an_extension_names()
    {
        var (exit, output) = await Dsl("check", Path.Combine(Repository.Root, "protocols", "ltp", "ltp-0.3.yaml"));
        Assert.Equal(0, exit);
        Assert.Contains("1 spec(s) checked: 0 error(s)", output);
    }

    [Fact]
    public async Task Check_of_nothing_or_of_a_missing_file_exits_1()
    {
        var (exit, output) = await Dsl("check", Path.Combine(_work, "missing.yaml"));
        Assert.Equal(1, exit);
        Assert.Contains("no such file or folder", output);
    }

    [Fact]
    public async Task Diagram_draws_the_flow_and_each_roles_machine()
    {
        var (exit, output) = await Dsl("diagram", Path.Combine(Repository.Root, "protocols", "ltp", "ltp-0.2.yaml"));
        Assert.Equal(0, exit);
        Assert.Contains("```mermaid\nsequenceDiagram\n", output);
        Assert.Contains("alt client#58; saved != null", output);
        Assert.Contains("R_server->>R_client: handshake_reject", output);
        Assert.Contains("## The client's machine", output);
        Assert.Contains("## The server's machine", output);
        Assert.Equal(3, Regex.Matches(output, "```mermaid").Count);

        var file = Path.Combine(_work, "ltp.md");
        (exit, _) = await Dsl("diagram", Path.Combine(Repository.Root, "protocols", "ltp", "ltp-0.2.yaml"), "--out", file);
        Assert.Equal(0, exit);
        Assert.Equal(output, File.ReadAllText(file));
    }

    [Fact]
    public async Task Diagram_of_a_spec_with_errors_points_to_check()
    {
        var spec = Path.Combine(_work, "bad.yaml");
        File.WriteAllText(spec, "protocol: bad\nversion: \"1\"\nroles: [a, b]\nmessages: {}\nflow: []\n");
        var (exit, output) = await Dsl("diagram", spec);
        Assert.Equal(1, exit);
        Assert.Contains("'dsl check", output);
    }

    [Fact]
    public async Task New_scaffolds_a_spec_that_checks_clean_and_an_app()
    {
        var folder = Path.Combine(_work, "greeter");
        var (exit, output) = await Dsl("new", "greeter", "--output", folder);
        Assert.Equal(0, exit);
        Assert.Equal(new[] { "Program.cs", "greeter.csproj", "greeter.yaml" }, Directory.GetFiles(folder).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
        Assert.Contains("Version=\"0.1.0\"", File.ReadAllText(Path.Combine(folder, "greeter.csproj")));
        (exit, output) = await Dsl("check", folder);
        Assert.True(exit == 0, output);

        // Not over a folder that has files, and not with a name that is not a protocol name.
        Assert.Equal(1, (await Dsl("new", "greeter", "--output", folder)).Exit);
        Assert.Equal(1, (await Dsl("new", "Greeter-2")).Exit);
    }
}

/// <summary><c>dsl run</c> and <c>dsl diff</c>: the generated machines, compiled and run in the command's process.</summary>
[Collection(CommandLine.Collection)]
public sealed class RunAndDiffTests
{
    private static string Spec(string path) => Path.Combine(Repository.Root, "protocols", path);


    private static async Task<(int Exit, string Output)> Dsl(params string[] args)
    {
        var output = new StringWriter();
        var exit = await Program.RunAsync(args, output, interactive: false);
        return (exit, output.ToString());
    }

    [Theory]
    [InlineData("ltp/ltp-0.2.yaml", "memory")]
    [InlineData("ltp/ltp-0.3.yaml", "tcp")]
    [InlineData("mesh/mesh-1.0.yaml", "tcp")]
    [InlineData("stt/stt-0.2.yaml", "memory")]
    [InlineData("stt/stt-0.2.yaml", "udp")]
    [InlineData("ltp/ltp-0.2.yaml", "websocket")]
    public async Task Run_completes_a_handshake_with_made_up_inputs_and_prints_every_message(string spec, string transport)
    {
        var (exit, output) = await Dsl("run", Spec(spec), "--transport", transport);
        Assert.True(exit == 0, output);
        Assert.Contains($"over {transport}", output);
        Assert.Matches(@"\n  \w+ -> \w+: \{", output);
        Assert.Equal(2, Regex.Matches(output, @"\n\w+: succeeded").Count);
    }

    [Fact]
    public async Task Run_ends_where_the_spec_says_when_a_made_up_input_is_not_enough()
    {
        // entft's server asks its application (a hook) for the client's phrase key: the run's hooks have none to give.
        var (exit, output) = await Dsl("run", Spec("entft/entft-1.0.yaml"));
        Assert.Equal(1, exit);
        Assert.Contains("server -> client: {\"entft\":{\"phase\":\"auth_fail\"", output);
        Assert.Contains("client: AUTH_FAIL", output);
    }

    [Fact]
    public async Task Run_takes_a_hooks_answer_as_json_and_reaches_success_with_it()
    {
        // The phrase key of the made-up client (client-id-1, passphrase-1), as entft's vectors answer it.
        var answers = Path.Combine(Repository.Root, "protocols", "entft", "vectors", "entft-1.0.hooks.json");
        var grant = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(answers))!["server.authorize"]!.ToJsonString();
        var (exit, output) = await Dsl("run", Spec("entft/entft-1.0.yaml"), "--hook", "server.authorize=" + grant);
        Assert.True(exit == 0, output);
        Assert.Contains("server: succeeded", output);
        // Another phrase key: the proof does not verify.
        (exit, output) = await Dsl("run", Spec("entft/entft-1.0.yaml"), "--hook", "server.authorize={\"phrase_key\":\"" + new string('1', 64) + "\",\"level\":\"crew\"}");
        Assert.Equal(1, exit);
        Assert.Contains("client: AUTH_FAIL", output);
        (exit, output) = await Dsl("run", Spec("entft/entft-1.0.yaml"), "--hook", "server.authorize={\"phrase_key\":\"zz\"}");
        Assert.Equal(1, exit);
        Assert.Contains("the server's hook answer 'authorize.phrase_key' cannot be \"zz\" (Bytes)", output);
        (exit, output) = await Dsl("run", Spec("entft/entft-1.0.yaml"), "--hook", "client.authorize=null");
        Assert.Equal(1, exit);
        Assert.Contains("--hook client.authorize: no such hook; the hooks are server.authorize", output);
    }

    [Fact]
    public async Task Run_answers_a_yes_or_no_hook_with_yes_and_takes_inputs_to_reach_success()
    {
        // CAHP asks its application whether a burn is on the ledger (yes), and refuses a burn below its minimum.
        var (exit, output) = await Dsl("run", Spec("cahp/cahp-1.1.yaml"));
        Assert.Equal(1, exit);
        Assert.Contains("open_weight: BURN_TOO_SMALL", output);
        (exit, output) = await Dsl("run", Spec("cahp/cahp-1.1.yaml"), "--input", "metabolic.burn_amount_sats=100000000");
        Assert.True(exit == 0, output);
        Assert.Contains("TrustScore = 1", output);
    }

    [Fact]
    public async Task Run_takes_inputs_and_says_which_it_cannot_make()
    {
        var (exit, output) = await Dsl("run", Spec("ltp/ltp-0.2.yaml"), "--input", "client.client_id=");
        Assert.Equal(1, exit);
        Assert.Contains("INVALID_CLIENT_ID", output);
        (exit, output) = await Dsl("run", Spec("ltp/ltp-0.2.yaml"), "--input", "client.client_id=ada");
        Assert.Equal(0, exit);
        Assert.Contains("ClientId = ada", output);
        (exit, output) = await Dsl("run", Spec("ltp/ltp-0.2.yaml"), "--input", "client.clientid=ada");
        Assert.Equal(1, exit);
        Assert.Contains("--input client.clientid: no such input; the inputs are client.capabilities, client.client_id", output);
    }

    [Fact]
    public async Task Diff_of_ltp_02_and_03_reports_the_changes_and_proves_the_verdict_by_running_the_peers()
    {
        var (exit, output) = await Dsl("diff", Spec("ltp/ltp-0.2.yaml"), Spec("ltp/ltp-0.3.yaml"));
        Assert.Equal(1, exit);
        Assert.Contains("FIELD_ADDED        handshake_init.nonce: a new optional field", output);
        Assert.Contains("CHECK_CHANGED      step 'init' (client -> server: handshake_init): the receiver checks 'msg.ltp_version == spec.version' else UNSUPPORTED_VERSION (the same words, another meaning)", output);
        Assert.Contains("CHECK_ADDED        step 'init' (client -> server: handshake_init): the receiver checks 'seen_nonces.fresh(msg.nonce)' else REPLAY", output);
        Assert.Contains("FIELD_ADDED        handshake_ack.signature: a new required field", output);
        Assert.Contains("client 0.2 with server 0.2: completes", output);
        Assert.Contains("client 0.3 with server 0.3: completes", output);
        Assert.Contains("client 0.2 with server 0.3: cannot complete: client UNSUPPORTED_VERSION, server UNSUPPORTED_VERSION (the changes said: may fail", output);
        Assert.Contains("client 0.3 with server 0.2: cannot complete: client UNSUPPORTED_VERSION, server UNSUPPORTED_VERSION (the changes said: may fail", output);
    }

    [Fact]
    public async Task Diff_of_a_spec_with_itself_finds_nothing_and_exits_0()
    {
        var (exit, output) = await Dsl("diff", Spec("mesh/mesh-1.0.yaml"), Spec("mesh/mesh-1.0.yaml"));
        Assert.True(exit == 0, output);
        Assert.Contains("No change.", output);
    }
}
