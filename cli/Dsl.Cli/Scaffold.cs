using System;
using System.IO;
using System.Text.RegularExpressions;

namespace Dsl.Cli;

/// <summary><c>dsl new NAME</c>: a folder with a spec and an app that runs it, ready for <c>dotnet run</c>.</summary>
internal static class Scaffold
{
    public static readonly Regex ValidName = new("^[a-z][a-z0-9_]*$", RegexOptions.CultureInvariant);

    /// <summary>Writes the project; returns the files written, or throws <see cref="IOException"/> when the folder has files.</summary>
    public static string[] Create(string name, string folder, string version)
    {
        if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).GetEnumerator().MoveNext())
            throw new IOException($"'{folder}' is not empty; give a new folder with --output");
        Directory.CreateDirectory(folder);
        var pascal = Pascal(name);
        var files = new (string Name, string Text)[]
        {
            ($"{name}.csproj", $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Dsl.Generator" Version="{version}" />
                    <PackageReference Include="Dsl.Runtime" Version="{version}" />
                    <AdditionalFiles Include="{name}.yaml" />
                  </ItemGroup>
                </Project>

                """),
            ($"{name}.yaml", $$"""
                # {{name}} 1: a client says hello with its name, the server welcomes it. Edit freely: 'dsl check {{name}}.yaml'
                # reports every mistake with its line, 'dsl diagram {{name}}.yaml' draws the flow.
                protocol: {{name}}
                version: "1"
                namespace: {{pascal}}.Protocol
                roles:
                  client: Starts the handshake.
                  server: Answers it.
                inputs:
                  client:
                    name: { type: string, doc: Who the client is. }
                messages:
                  hello:
                    fields:
                      version: string
                      name: { type: string, max_length: 64 }
                      nonce: bytes<16>
                  welcome:
                    fields:
                      version: string
                      greeting: string
                      nonce: bytes<16>
                  error:
                    reports: { code: code, detail: detail }
                    fields:
                      code: string
                      detail: string
                errors:
                  BAD_VERSION: { doc: The peer speaks another version., send: error, set: { detail: detail } }
                  EMPTY_NAME: { doc: The client sent an empty name., send: error, set: { detail: detail } }
                  NONCE_MISMATCH: { doc: The welcome does not answer this hello., send: error, set: { detail: detail } }
                timeouts: { handshake: 10s, step: 5s }
                flow:
                  - client -> server: hello
                    label: hello
                    set: { version: spec.version, name: self.name, nonce: random(16) }
                    require:
                      - msg.version == spec.version else BAD_VERSION
                      - msg.name != "" else EMPTY_NAME
                  - server -> client: welcome
                    label: welcome
                    set: { version: spec.version, greeting: hello.name, nonce: hello.nonce }
                    require:
                      - msg.version == spec.version else BAD_VERSION
                      - msg.nonce == hello.nonce else NONCE_MISMATCH
                outcome:
                  client: { greeting: welcome.greeting }
                  server: { name: hello.name }

                """),
            ("Program.cs", $$"""
                using Dsl.Runtime.Transports;
                using {{pascal}}.Protocol;

                // Both roles over an in-memory pair; swap in TcpTransport, WebSocketTransport or the UDP manager for a real network.
                var (clientEnd, serverEnd) = InMemoryTransport.CreatePair();
                var server = new {{pascal}}Server(new {{pascal}}ServerInputs()).RunAsync(serverEnd);
                var client = await new {{pascal}}Client(new {{pascal}}ClientInputs { Name = args.Length > 0 ? args[0] : "Ada" }).RunAsync(clientEnd);
                var served = await server;
                Console.WriteLine(client.Succeeded && served.Succeeded
                    ? $"client: {client.Result.Greeting}, server: {served.Result.Name}"
                    : $"failed: {client.Error} / {served.Error}");
                return client.Succeeded && served.Succeeded ? 0 : 1;

                """),
        };
        foreach (var (file, text) in files) File.WriteAllText(Path.Combine(folder, file), text);
        return Array.ConvertAll(files, f => Path.Combine(folder, f.Name));
    }

    private static string Pascal(string name)
    {
        var parts = name.Split('_', StringSplitOptions.RemoveEmptyEntries);
        return string.Concat(Array.ConvertAll(parts, p => char.ToUpperInvariant(p[0]) + p.Substring(1)));
    }
}
