using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Spectre.Console;

namespace Dsl.Cli;

/// <summary>
/// <c>dsl</c>: <c>check</c> reports every diagnostic of the given specs (exit code 1 on an error), <c>diagram</c> draws
/// a spec as Mermaid diagrams, <c>new</c> scaffolds a spec and an app that runs it. Colour, tables and progress on a
/// terminal; plain text when the output is redirected.
/// </summary>
public static class Program
{
    /// <summary>Runs the command line; colour and progress when the output is a terminal.</summary>
    public static Task<int> Main(string[] args) => RunAsync(args, System.Console.Out, interactive: !System.Console.IsOutputRedirected);

    /// <summary>Runs a command line, writing to <paramref name="output"/>; <paramref name="interactive"/> allows colour and progress.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, bool interactive)
    {
        var root = new RootCommand("dsl: check, draw and scaffold handshake specs (YAML) for the Handshake DSL generator.");

        var specs = new Argument<string[]>("specs") { Description = "Spec files, or folders to search for .yaml and .yml files.", Arity = ArgumentArity.OneOrMore };
        var check = new Command("check", "Report every diagnostic of the specs, with file, line, column and help; exit code 1 on an error.") { specs };
        check.SetAction((parse, cancellationToken) => Task.FromResult(Check(parse.GetValue(specs)!, output, interactive, cancellationToken)));
        root.Subcommands.Add(check);

        var spec = new Argument<string>("spec") { Description = "The spec file." };
        var outFile = new Option<string?>("--out") { Description = "Write the diagrams as Markdown to this file instead of printing them." };
        var diagram = new Command("diagram", "Draw a spec: a Mermaid sequence diagram of its flow and a state diagram of each role's machine, as Markdown.") { spec, outFile };
        diagram.SetAction((parse, cancellationToken) => Task.FromResult(Diagram(parse.GetValue(spec)!, parse.GetValue(outFile), output, cancellationToken)));
        root.Subcommands.Add(diagram);

        var runSpec = new Argument<string>("spec") { Description = "The spec file." };
        var transport = new Option<string>("--transport") { Description = "memory (an in-memory pair), tcp, websocket or udp (loopback; udp through the handshake managers, with retransmission).", DefaultValueFactory = _ => "memory" };
        transport.AcceptOnlyFromAmong(Running.HandshakeRun.Transports);
        var seed = new Option<int>("--seed") { Description = "The seed every made-up input is derived from.", DefaultValueFactory = _ => 1 };
        var inputs = new Option<string[]>("--input") { Description = "An input's value, ROLE.NAME=VALUE (bytes and keys in hex); repeatable.", AllowMultipleArgumentsPerToken = false };
        var hooks = HookOption();
        var run = new Command("run", "Run both roles of a spec against each other, printing every message and each role's outcome; exit code 1 unless both succeed.") { runSpec, transport, seed, inputs, hooks };
        run.SetAction((parse, cancellationToken) => RunSpecAsync(parse.GetValue(runSpec)!, parse.GetValue(transport)!, parse.GetValue(seed), parse.GetValue(inputs) ?? Array.Empty<string>(), parse.GetValue(hooks) ?? Array.Empty<string>(), Say(output, interactive), cancellationToken));
        root.Subcommands.Add(run);

        var oldSpec = new Argument<string>("old") { Description = "The earlier version's spec file." };
        var newSpec = new Argument<string>("new") { Description = "The later version's spec file." };
        var diffSeed = new Option<int>("--seed") { Description = "The seed the runs' made-up inputs are derived from.", DefaultValueFactory = _ => 1 };
        var diff = new Command("diff", "Report what changed between two versions of a spec and whom it can stop, then run each role of one version against the other's; exit code 1 when an old peer cannot complete a handshake with a new one.") { oldSpec, newSpec, diffSeed };
        diff.SetAction((parse, cancellationToken) => DiffAsync(parse.GetValue(oldSpec)!, parse.GetValue(newSpec)!, parse.GetValue(diffSeed), Say(output, interactive), cancellationToken));
        root.Subcommands.Add(diff);

        var pageSpec = new Argument<string>("spec") { Description = "The spec file." };
        var pageOut = new Option<string?>("--out") { Description = "Write the page to this file instead of printing it." };
        var page = new Command("page", "Write the protocol's page: diagrams, messages and fields as they travel, what is signed, every check, the errors on the wire, timeouts and transports.") { pageSpec, pageOut };
        page.SetAction((parse, cancellationToken) => Task.FromResult(Page(parse.GetValue(pageSpec)!, parse.GetValue(pageOut), output, cancellationToken)));
        root.Subcommands.Add(page);

        var vectorSpec = new Argument<string>("spec") { Description = "The spec file." };
        var vectorOut = new Option<string?>("--out") { Description = "The folder to write the vectors to (default: vectors/SPEC beside the spec); its .json files are replaced." };
        var vectorHooks = HookOption();
        var vectors = new Command("vectors", "Write deterministic test vectors (seeded random bytes, a fixed clock): for each distinct path found, the exact bytes each role sends, its inputs and its outcome.") { vectorSpec, vectorOut, vectorHooks };
        vectors.SetAction((parse, cancellationToken) => VectorsAsync(parse.GetValue(vectorSpec)!, parse.GetValue(vectorOut), parse.GetValue(vectorHooks) ?? Array.Empty<string>(), Say(output, interactive), cancellationToken));
        root.Subcommands.Add(vectors);

        var attackSpecs = new Argument<string[]>("specs") { Description = "Spec files, or folders to search for .yaml and .yml files.", Arity = ArgumentArity.OneOrMore };
        var attackSeed = new Option<int>("--seed") { Description = "The seed of the good handshake the cases start from, of their random bytes and of the sample.", DefaultValueFactory = _ => 1 };
        var attackCases = new Option<int?>("--cases") { Description = "Run at most this many cases of the mutation, order and bytes classes per spec (a seeded sample); all by default. The misbehaving peer per check always runs." };
        var attackCase = new Option<string?>("--case") { Description = "Run only this case (the id a report printed), to reproduce it." };
        var attackHooks = HookOption();
        var attackInputs = new Option<string[]>("--input") { Description = "An input of the good handshake, ROLE.NAME=VALUE (bytes and keys in hex); repeatable. A lower hashcash difficulty makes a run faster.", AllowMultipleArgumentsPerToken = false };
        var attackEach = new Option<bool>("--each") { Description = "Print every case: its id, what it does and how each role ended." };
        var attack = new Command("attack", "Run an adversary derived from each spec against each of its roles: a misbehaving peer per check, Dolev-Yao mutations, message orders and byte changes; exit code 1 on any violation.") { attackSpecs, attackSeed, attackCases, attackCase, attackHooks, attackInputs, attackEach };
        attack.SetAction((parse, cancellationToken) => AttackAsync(parse.GetValue(attackSpecs)!,
            new Attack.AttackSettings(parse.GetValue(attackSeed), parse.GetValue(attackCases), parse.GetValue(attackCase)) { Inputs = Inputs(parse.GetValue(attackInputs)), Each = parse.GetValue(attackEach) },
            parse.GetValue(attackHooks) ?? Array.Empty<string>(), output, interactive, cancellationToken));
        root.Subcommands.Add(attack);

        var name = new Argument<string>("name") { Description = "The protocol's name: lower case letters, digits and '_', starting with a letter." };
        var folder = new Option<string?>("--output") { Description = "The folder to create (default: ./NAME)." };
        var packageVersion = new Option<string>("--package-version")
        {
            Description = "The version of the Dsl.Generator and Dsl.Runtime packages to reference.",
            DefaultValueFactory = _ => Version(),
        };
        var create = new Command("new", "Scaffold a spec and a console app that runs both of its roles.") { name, folder, packageVersion };
        create.SetAction(parse => New(parse.GetValue(name)!, parse.GetValue(folder), parse.GetValue(packageVersion)!, output));
        root.Subcommands.Add(create);

        var configuration = new InvocationConfiguration { Output = output, Error = output };
        return await root.Parse(args).InvokeAsync(configuration).ConfigureAwait(false);
    }

    private static int Check(string[] paths, TextWriter output, bool interactive, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        var (named, all) = SpecFiles.Find(paths, missing);
        foreach (var path in missing) output.WriteLine($"{path}: no such file or folder");
        if (named.Count == 0)
        {
            output.WriteLine("No spec to check (.yaml or .yml).");
            return 1;
        }
        IReadOnlyList<SpecProblem> problems = Array.Empty<SpecProblem>();
        var console = interactive ? Terminal(output) : null;
        if (console is not null)
            console.Status().Start($"Checking {named.Count} spec(s)…", _ => problems = SpecChecker.Check(all, cancellationToken));
        else
            problems = SpecChecker.Check(all, cancellationToken);

        var errors = problems.Count(p => p.Severity == DiagnosticSeverity.Error);
        var warnings = problems.Count(p => p.Severity == DiagnosticSeverity.Warning);
        var notes = problems.Count(p => p.Severity == DiagnosticSeverity.Info);
        var summary = $"{named.Count} spec(s) checked: {errors} error(s), {warnings} warning(s), {notes} note(s).";
        if (console is null)
        {
            foreach (var p in problems)
                output.WriteLine($"{SpecFiles.Display(p.Path)}({p.Line},{p.Column}): {Severity(p.Severity)} {p.Id}: {p.Message}{(p.Help is null ? "" : $" ({p.Help})")}");
            output.WriteLine(summary);
        }
        else
        {
            if (problems.Count > 0)
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumns("Where", "", "Id", "Message");
                foreach (var p in problems)
                {
                    var colour = p.Severity switch { DiagnosticSeverity.Error => "red", DiagnosticSeverity.Warning => "yellow", _ => "grey" };
                    var id = p.Help is null ? Markup.Escape(p.Id) : $"[link={Markup.Escape(p.Help)}]{Markup.Escape(p.Id)}[/]";
                    table.AddRow($"{Markup.Escape(SpecFiles.Display(p.Path))}:{p.Line}:{p.Column}", $"[{colour}]{Severity(p.Severity)}[/]", id, Markup.Escape(p.Message));
                }
                console.Write(table);
            }
            console.MarkupLine(errors > 0 ? $"[red]{Markup.Escape(summary)}[/]" : $"[green]{Markup.Escape(summary)}[/]");
        }
        return errors > 0 || missing.Count > 0 ? 1 : 0;
    }

    private static int Diagram(string path, string? outFile, TextWriter output, CancellationToken cancellationToken)
    {
        if (Model(path, output, cancellationToken) is not { } model) return 1;
        var markdown = MermaidWriter.Markdown(model);
        if (outFile is null) output.Write(markdown);
        else
        {
            File.WriteAllText(outFile, markdown);
            output.WriteLine($"Wrote {outFile}");
        }
        return 0;
    }

    private static Option<string[]> HookOption() => new("--hook")
    {
        Description = "A hook's answer, ROLE.HOOK=JSON or ROLE.HOOK=@FILE (bytes in hex, enums by their text, objects by member); repeatable. Unanswered hooks say yes to a yes-or-no question and nothing otherwise.",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The hooks' answers given as ROLE.HOOK=JSON (or =@FILE), checked against the spec's hooks; null after saying what is wrong.</summary>
    private static Dictionary<string, string>? HookAnswers(string[] answers, Running.GeneratedSpec spec, Speaker output)
    {
        var known = spec.Model.Protocol.Hooks.SelectMany(h => h.Roles.Select(r => r + "." + h.Name)).ToHashSet(StringComparer.Ordinal);
        var given = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var answer in answers)
        {
            var equals = answer.IndexOf('=');
            if (equals <= 0)
            {
                output.WriteLine($"--hook {answer}: expected ROLE.HOOK=JSON");
                return null;
            }
            var key = answer.Substring(0, equals);
            if (!known.Contains(key))
            {
                output.WriteLine($"--hook {key}: no such hook; the hooks are {(known.Count == 0 ? "none" : string.Join(", ", known.OrderBy(k => k, StringComparer.Ordinal)))}");
                return null;
            }
            var value = answer.Substring(equals + 1);
            if (value.StartsWith('@'))
            {
                if (!File.Exists(value.Substring(1)))
                {
                    output.WriteLine($"--hook {key}: no such file {value.Substring(1)}");
                    return null;
                }
                value = File.ReadAllText(value.Substring(1));
            }
            given[key] = value;
        }
        return given;
    }

    private static async Task<int> RunSpecAsync(string path, string transport, int seed, string[] inputs, string[] hookAnswers, Speaker output, CancellationToken cancellationToken)
    {
        var given = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var equals = input.IndexOf('=');
            if (equals <= 0)
            {
                output.WriteLine($"--input {input}: expected ROLE.NAME=VALUE");
                return 1;
            }
            given[input.Substring(0, equals)] = input.Substring(equals + 1);
        }
        if (Compile(path, output.Writer, cancellationToken) is not { } spec) return 1;
        var known = spec.Model.Protocol.Roles.SelectMany(r => r.Inputs.Select(i => r.Name + "." + i.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (var key in given.Keys.Where(k => !known.Contains(k)))
        {
            output.WriteLine($"--input {key}: no such input; the inputs are {string.Join(", ", known.OrderBy(k => k, StringComparer.Ordinal))}");
            return 1;
        }
        if (HookAnswers(hookAnswers, spec, output) is not { } hooks) return 1;
        output.WriteLine($"{spec.Model.Protocol.Name} {spec.Model.Protocol.Version} over {transport} (inputs made up from seed {seed}):");
        var result = await Running.HandshakeRun.RunAsync(spec, spec, new Running.Peers(seed, given) { HookAnswersGiven = hooks }, transport,
            message => output.WriteLine("  " + message), line => output.WriteLine(line), cancellationToken).ConfigureAwait(false);
        if (result is not { } outcomes) return 1;
        foreach (var outcome in new[] { outcomes.First, outcomes.Second })
            output.WriteLine($"{outcome.Role}: {outcome.Summary}", outcome.Succeeded ? "green" : "red");
        return outcomes.First.Succeeded && outcomes.Second.Succeeded ? 0 : 1;
    }

    private static async Task<int> DiffAsync(string oldPath, string newPath, int seed, Speaker output, CancellationToken cancellationToken)
    {
        if (Compile(oldPath, output.Writer, cancellationToken) is not { } old || Compile(newPath, output.Writer, cancellationToken) is not { } @new) return 1;
        var (o, n) = (old.Model.Protocol, @new.Model.Protocol);
        var roles = o.Roles.Select(r => r.Name).ToArray();
        if (o.Name != n.Name || !roles.SequenceEqual(n.Roles.Select(r => r.Name)))
        {
            output.WriteLine($"{o.Name} {o.Version} and {n.Name} {n.Version} are not two versions of one protocol with the same roles.");
            return 1;
        }
        output.WriteLine($"{o.Name} {o.Version} -> {n.Version}");
        var changes = Compatibility.SpecDiff.Compare(o, n);
        output.WriteLine();
        output.WriteLine(changes.Count == 0 ? "No change." : "Changes:");
        foreach (var change in changes)
        {
            var whom = change.Impact switch
            {
                Compatibility.Impact.NewRefusesOld => $" [a new {change.Receiver ?? "peer"} may refuse an old one]",
                Compatibility.Impact.OldRefusesNew => $" [an old {change.Receiver ?? "peer"} may refuse a new one]",
                Compatibility.Impact.Both => " [breaks both ways]",
                _ => "",
            };
            output.WriteLine($"  {change.Rule,-18} {change.Where}: {change.What}{whom}", change.Impact == Compatibility.Impact.None ? null : "yellow");
        }

        output.WriteLine();
        output.WriteLine("Roles across versions (each pair run over an in-memory pair, inputs made up from seed " + seed + "):");
        var peers = new Running.Peers(seed, new Dictionary<string, string>());
        var broken = false;
        foreach (var (first, second) in new[] { (old, old), (@new, @new), (old, @new), (@new, old) })
        {
            var transcript = new List<string>();
            var result = await Running.HandshakeRun.RunAsync(first, second, peers, "memory", message => { lock (transcript) transcript.Add(message.ToString()); },
                line => transcript.Add(line), cancellationToken).ConfigureAwait(false);
            var pair = $"{roles[0]} {first.Model.Protocol.Version} with {roles[1]} {second.Model.Protocol.Version}";
            var expected = Expect(changes, roles, first == old && second == @new, first == @new && second == old);
            if (result is not { } outcomes)
            {
                output.WriteLine($"  {pair}: not run: {transcript.LastOrDefault()}");
                continue;
            }
            var completed = outcomes.First.Succeeded && outcomes.Second.Succeeded;
            var verdict = completed ? "completes" : $"cannot complete: {outcomes.First.Role} {outcomes.First.ErrorCode ?? "ok"}, {outcomes.Second.Role} {outcomes.Second.ErrorCode ?? "ok"}";
            output.WriteLine($"  {pair}: {verdict}{(expected is null ? "" : $" (the changes said: {expected})")}", completed ? "green" : "red");
            if (!completed && first != second) broken = true;
        }
        return broken ? 1 : 0;
    }

    /// <summary>What the changes predict for a pair across versions: whether any can stop it, and why.</summary>
    private static string? Expect(IReadOnlyList<Compatibility.Change> changes, string[] roles, bool oldFirstNewSecond, bool newFirstOldSecond)
    {
        if (!oldFirstNewSecond && !newFirstOldSecond) return null;
        // The role of the new version, and that of the old.
        var newRole = oldFirstNewSecond ? roles[1] : roles[0];
        var oldRole = oldFirstNewSecond ? roles[0] : roles[1];
        var stops = changes.Where(c => c.Impact switch
        {
            Compatibility.Impact.NewRefusesOld => c.Receiver is null || c.Receiver == newRole,
            Compatibility.Impact.OldRefusesNew => c.Receiver is null || c.Receiver == oldRole,
            Compatibility.Impact.Both => true,
            _ => false,
        }).ToList();
        return stops.Count == 0 ? "compatible" : $"may fail, {stops.Count} change(s): " + string.Join(", ", stops.Select(c => c.Rule).Distinct());
    }

    private static int Page(string path, string? outFile, TextWriter output, CancellationToken cancellationToken)
    {
        if (Model(path, output, cancellationToken) is not { } model) return 1;
        // The spec's vectors, if written: vectors/SPEC beside the spec.
        var specPath = path.Replace('\\', '/');
        var folder = Vectors.TestVectors.Folder(model.Protocol.FilePath);
        var vectors = Directory.Exists(folder)
            ? Directory.GetFiles(folder, "*.json").OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => (File: (Path.GetDirectoryName(specPath) is { Length: > 0 } dir ? dir + "/" : "") + "vectors/" + Path.GetFileNameWithoutExtension(model.Protocol.FilePath) + "/" + Path.GetFileName(f),
                              Description: (string?)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(f))?["description"] ?? ""))
                .ToList()
            : new List<(string File, string Description)>();
        var text = Pages.ProtocolPage.Write(model, specPath, vectors);
        if (outFile is null) output.Write(text);
        else
        {
            File.WriteAllText(outFile, text);
            output.WriteLine($"Wrote {outFile}");
        }
        return 0;
    }

    private static async Task<int> VectorsAsync(string path, string? folder, string[] hookAnswers, Speaker output, CancellationToken cancellationToken)
    {
        if (Compile(path, output.Writer, cancellationToken) is not { } spec) return 1;
        if (SavedHookAnswers(spec, hookAnswers, output) is not { } hooks) return 1;
        var (found, searched) = await Vectors.TestVectors.ExploreAsync(spec, hooks, cancellationToken).ConfigureAwait(false);
        // The errors no path of the search reaches: dsl attack's misbehaving peer for the checks that raise them.
        var (attacks, unreached) = await Vectors.TestVectors.AttackVectorsAsync(spec, hooks, searched, found.Count + 1, cancellationToken).ConfigureAwait(false);
        folder ??= Vectors.TestVectors.Folder(spec.Model.Protocol.FilePath);
        Directory.CreateDirectory(folder);
        foreach (var old in Directory.GetFiles(folder, "*.json")) File.Delete(old);
        foreach (var vector in found)
        {
            File.WriteAllText(Path.Combine(folder, vector.Name + ".json"), Vectors.TestVectors.ToJson(vector, spec.Model.Protocol));
            output.WriteLine($"{vector.Name}: {vector.Description}");
        }
        foreach (var (name, json) in attacks)
        {
            File.WriteAllText(Path.Combine(folder, name + ".json"), json);
            output.WriteLine($"{name}: {System.Text.Json.Nodes.JsonNode.Parse(json)!["description"]}");
        }
        output.WriteLine($"{found.Count + attacks.Count} vector(s) in {SpecFiles.Display(folder)}.");
        var why = "neither the search's peers nor dsl attack's misbehaving peer reach them (docs/attack.md says what it cannot do)";
        if (unreached.Count > 0)
            output.WriteLine(colour: "yellow", line: $"No vector reaches these errors ({why}): {string.Join(", ", unreached)}.");
        var protocol = spec.Model.Protocol;
        File.WriteAllText(Path.Combine(folder, "README.md"),
            $"# Test vectors: {protocol.Name} {protocol.Version}\n\n"
            + $"{found.Count + attacks.Count} vectors, written by `dsl vectors` (see the protocol's page in `docs/protocols/`). Each JSON file is one path: each role's inputs, "
            + "the hooks' answers, every message's exact bytes, what a misbehaving peer changed, and how each role ended."
            + (attacks.Count == 0 ? "\n\n" : $" The {attacks.Count} named `attack` are the paths to errors the search's peers do not reach, made by `dsl attack`'s misbehaving peer "
                + "(its `attack` member says what it did: a field changed before signing, a store prepared, a peer with another key); they replay the same way.\n\n")
            + (unreached.Count == 0
                ? "Every error the spec names is reached by a vector.\n"
                : $"Errors the spec names that no vector reaches ({why}): {string.Join(", ", unreached.Select(c => "`" + c + "`"))}.\n"));
        return 0;
    }

    /// <summary>
    /// The hooks' answers a spec's vectors and attacks are made with: vectors/SPEC.hooks.json beside the spec, then
    /// <paramref name="hookAnswers"/> (<c>--hook</c>); null, said why, when one cannot be read.
    /// </summary>
    private static Dictionary<string, string>? SavedHookAnswers(Running.GeneratedSpec spec, string[] hookAnswers, Speaker output)
    {
        var answersFile = Vectors.TestVectors.Folder(spec.Model.Protocol.FilePath) + ".hooks.json";
        if (File.Exists(answersFile))
        {
            try
            {
                var saved = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(answersFile))!.AsObject();
                hookAnswers = saved.Select(h => h.Key + "=" + (h.Value?.ToJsonString() ?? "null")).Concat(hookAnswers).ToArray();
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
            {
                output.WriteLine($"{SpecFiles.Display(answersFile)}: expected a JSON object of answers by ROLE.HOOK ({ex.Message})");
                return null;
            }
            output.WriteLine($"Hooks answered as {SpecFiles.Display(answersFile)} says.");
        }
        return HookAnswers(hookAnswers, spec, output);
    }

    private static async Task<int> AttackAsync(string[] paths, Attack.AttackSettings settings, string[] hookAnswers, TextWriter writer, bool interactive, CancellationToken cancellationToken)
    {
        var output = Say(writer, interactive);
        var missing = new List<string>();
        var (named, all) = SpecFiles.Find(paths, missing);
        foreach (var path in missing) output.WriteLine($"{path}: no such file or folder");
        if (named.Count == 0)
        {
            output.WriteLine("No spec to attack (.yaml or .yml).");
            return 1;
        }
        var failed = missing.Count > 0;
        foreach (var path in named)
        {
            var compiled = Running.GeneratedSpec.Compile(path, all, out var problem, cancellationToken);
            if (compiled is null)
            {
                output.WriteLine($"{SpecFiles.Display(path)}: {problem}");
                failed = true;
                continue;
            }
            if (SavedHookAnswers(compiled, hookAnswers, output) is not { } hooks) return 1;
            var adversary = new Attack.Adversary(compiled, settings.Seed, hooks, settings.Inputs);
            if (await adversary.PrepareAsync(cancellationToken).ConfigureAwait(false) is { } cannot)
            {
                output.WriteLine($"{SpecFiles.Display(path)}: cannot attack: {cannot}", "red");
                failed = true;
                continue;
            }
            output.WriteLine($"Attacking {adversary.Protocol} ({SpecFiles.Display(path)}), seed {settings.Seed}{(settings.Sample is { } n ? $", a sample of {n} cases besides the checks" : "")}…");
            output.WriteLine($"  From a good handshake with {(adversary.Given.Count == 0 ? "made-up inputs" : "made-up inputs but " + string.Join(", ", adversary.Given.Select(g => $"{g.Key}={g.Value}")))}"
                + (adversary.Paths.Any() ? $"; also the other paths of {string.Join("; ", adversary.Paths)}." : "."), "grey");
            Attack.AttackReport report;
            try
            {
                var done = 0;
                report = await Attack.Campaign.RunAsync(adversary, settings, result =>
                {
                    if (settings.Each) output.WriteLine($"  {result.Case.Id}: {result.Case.Description}; {result.Ending}{(result.VictimDetail is { } detail ? $" ({detail})" : "")}", result.Violations.Count > 0 ? "red" : null);
                    else if (interactive && ++done % 500 == 0) output.WriteLine($"  {done} cases…", "grey");
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException ex)
            {
                output.WriteLine(ex.Message, "red");
                return 1;
            }
            failed |= Attack.AttackPrinter.Print(report, SpecFiles.Display(path), settings, output.WriteLine);
        }
        return failed ? 1 : 0;
    }

    /// <summary>ROLE.NAME=VALUE pairs as a dictionary (the last of one name wins).</summary>
    private static Dictionary<string, string> Inputs(string[]? pairs)
    {
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs ?? Array.Empty<string>())
        {
            var equals = pair.IndexOf('=');
            if (equals > 0) inputs[pair[..equals]] = pair[(equals + 1)..];
        }
        return inputs;
    }

    private static int New(string name, string? folder, string version, TextWriter output)
    {
        if (!Scaffold.ValidName.IsMatch(name))
        {
            output.WriteLine($"'{name}' is not a protocol name: lower case letters, digits and '_', starting with a letter.");
            return 1;
        }
        try
        {
            var files = Scaffold.Create(name, folder ?? Path.Combine(Environment.CurrentDirectory, name), version);
            foreach (var file in files) output.WriteLine($"Created {SpecFiles.Display(file)}");
            output.WriteLine($"Next: add a feed with the Dsl packages (see the README, 'Use it in your app'), then 'dotnet run' in {SpecFiles.Display(Path.GetDirectoryName(files[0])!)}.");
            return 0;
        }
        catch (IOException ex)
        {
            output.WriteLine(ex.Message);
            return 1;
        }
    }

    /// <summary>The one spec at <paramref name="path"/> as the generator binds it (its bases merged in), or null, said why.</summary>
    private static SpecModel? Model(string path, TextWriter output, CancellationToken cancellationToken)
    {
        if (One(path, output) is not var (spec, project)) return null;
        var model = SpecModel.Load(spec, project, cancellationToken);
        if (model is null) output.WriteLine($"{path} has errors; 'dsl check {path}' lists them.");
        return model;
    }

    /// <summary>The one spec at <paramref name="path"/>, its generated code compiled and loaded, or null, said why.</summary>
    private static Running.GeneratedSpec? Compile(string path, TextWriter output, CancellationToken cancellationToken)
    {
        if (One(path, output) is not var (spec, project)) return null;
        var compiled = Running.GeneratedSpec.Compile(spec, project, out var problem, cancellationToken);
        if (compiled is null) output.WriteLine(problem);
        return compiled;
    }

    /// <summary>The spec file <paramref name="path"/> names, and the specs it needs (its bases); null, said why, when it names no one spec.</summary>
    private static (string Spec, IReadOnlyList<string> Project)? One(string path, TextWriter output)
    {
        var (named, all) = SpecFiles.Find(new[] { path }, new List<string>());
        if (named.Count == 1) return (named[0], all);
        output.WriteLine($"{path}: not a spec file");
        return null;
    }

    private static Speaker Say(TextWriter output, bool interactive) => new(output, interactive ? Terminal(output) : null);

    /// <summary>Lines to the output: plain text when redirected, coloured on a terminal.</summary>
    private sealed class Speaker(TextWriter output, IAnsiConsole? terminal)
    {
        public TextWriter Writer => output;

        public void WriteLine(string? line = null, string? colour = null)
        {
            lock (output)
            {
                if (terminal is null || colour is null) output.WriteLine(line);
                else terminal.MarkupLine($"[{colour}]{Markup.Escape(line ?? "")}[/]");
            }
        }
    }

    private static string Severity(DiagnosticSeverity severity) => severity switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        _ => "info",
    };

    private static IAnsiConsole Terminal(TextWriter output) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(output),
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
        Interactive = InteractionSupport.Detect,
    });

    /// <summary>The tool's own version: the packages it was built with.</summary>
    private static string Version()
    {
        var informational = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.1.0";
        var plus = informational.IndexOf('+');
        return plus < 0 ? informational : informational.Substring(0, plus);
    }
}
