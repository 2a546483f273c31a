using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace Dsl.Cli.Tests;

/// <summary>
/// What the README's "Use it in your app" section tells a new user, done by the letter: pack the three packages into
/// a folder, make a project outside the solution that restores them from it, add the section's spec and program, and
/// run a handshake. Then a mistake in the spec: its diagnostic's help link opens a page that exists. And what
/// <c>dsl new</c> scaffolds builds and runs from the same feed.
/// </summary>
[Collection(CommandLine.Collection)]
public sealed class PackageTests
{
    [Fact]
    public void A_project_outside_the_solution_runs_a_handshake_from_the_packages_in_a_folder_feed()
    {
        var root = Repository.Root;
        var section = Section(File.ReadAllText(Path.Combine(root, "README.md")), "## Use it in your app");
        var project = Block(section, "xml");
        var spec = Block(section, "yaml");
        var program = Block(section, "csharp");
        Assert.Contains("dotnet pack Dsl.sln -o ~/dsl-feed", Block(section, "sh"));

        var work = Directory.CreateTempSubdirectory("dsl-package-test-").FullName;
        try
        {
            // A version of its own, so that no copy of these packages restored earlier (by a reader of the README, or an
            // earlier run) can stand in for the ones just packed; packages are restored into a folder of the test's own.
            var version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
            var feed = Path.Combine(work, "feed");
            foreach (var packable in new[] { "generator/Dsl.Generator/Dsl.Generator.csproj", "runtime/Dsl.Runtime/Dsl.Runtime.csproj", "runtime/Dsl.Runtime.AspNetCore/Dsl.Runtime.AspNetCore.csproj" })
                Run(root, "dotnet", $"pack {Path.Combine(root, packable)} -c Release -o {feed} -p:Version={version}");
            Assert.Equal(3, Directory.GetFiles(feed, "*.nupkg").Length);

            var app = Directory.CreateDirectory(Path.Combine(work, "hello")).FullName;
            var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="dsl-local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                  </packageSources>
                  <fallbackPackageFolders>
                    <add key="machine" value="{globalPackages}" />
                  </fallbackPackageFolders>
                </configuration>
                """);
            Assert.Contains("Version=\"0.1.0\"", project);
            File.WriteAllText(Path.Combine(app, "hello.csproj"), project.Replace("Version=\"0.1.0\"", $"Version=\"{version}\""));
            File.WriteAllText(Path.Combine(app, "greet.yaml"), spec);
            File.WriteAllText(Path.Combine(app, "Program.cs"), program);
            var packages = Path.Combine(work, "packages");

            var output = Run(app, "dotnet", "run", packages);
            Assert.Contains("client: Ada, server: Ada", output);

            // What 'dsl new' makes builds from the same packages and runs its handshake.
            var scaffold = Path.Combine(work, "greeter");
            var created = new StringWriter();
            Assert.Equal(0, Program.RunAsync(new[] { "new", "greeter", "--output", scaffold, "--package-version", version }, created, interactive: false).GetAwaiter().GetResult());
            File.Copy(Path.Combine(app, "nuget.config"), Path.Combine(scaffold, "nuget.config"));
            Assert.Contains("client: Grace, server: Grace", Run(scaffold, "dotnet", "run -- Grace", packages));

            // A mistake: the diagnostic names the spec's line, and its help link is a page of the package's docs.
            File.WriteAllText(Path.Combine(app, "greet.yaml"), spec.Replace("msg.name != \"\"", "msg.nmae != \"\""));
            var failed = Run(app, "dotnet", "build", packages, expectSuccess: false);
            var error = Regex.Match(failed, @"greet\.yaml\((\d+),(\d+)\): error DSL203: [^\n]*\((file://[^)\s]+)\)");
            Assert.True(error.Success, "no DSL203 with a file link in:\n" + failed);
            var page = new Uri(error.Groups[3].Value).LocalPath;
            Assert.EndsWith(Path.Combine("docs", "diagnostics", "DSL203.md"), page);
            Assert.StartsWith("# DSL203:", File.ReadAllText(page));
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Section(string markdown, string heading)
    {
        var start = markdown.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no '{heading}' section");
        var end = markdown.IndexOf("\n## ", start + heading.Length + 2, StringComparison.Ordinal);
        return end < 0 ? markdown.Substring(start) : markdown.Substring(start, end - start);
    }

    private static string Block(string section, string language)
    {
        var match = Regex.Match(section, "```" + language + "\n(.*?)```", RegexOptions.Singleline);
        Assert.True(match.Success, $"the section has no ```{language} block");
        return match.Groups[1].Value;
    }

    private static string Run(string directory, string command, string arguments, string? packages = null, bool expectSuccess = true)
    {
        var start = new ProcessStartInfo(command, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // Builds inside a test run must not reuse the solution's build server or its MSBuild environment.
        start.Environment["MSBuildSDKsPath"] = null;
        start.Environment["MSBUILD_EXE_PATH"] = null;
        start.Environment["MSBuildExtensionsPath"] = null;
        if (packages is not null) start.Environment["NUGET_PACKAGES"] = packages;
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{command} {arguments}' did not finish in 5 minutes:\n{output}");
        }
        process.WaitForExit();
        if (expectSuccess) Assert.True(process.ExitCode == 0, $"'{command} {arguments}' failed ({process.ExitCode}):\n{output}");
        return output.ToString();
    }
}
