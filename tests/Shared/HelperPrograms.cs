using System;
using System.IO;
using Xunit;

namespace Dsl.Tests.Shared;

/// <summary>The small programs some tests run in a process of their own (a crash test's writer, a load test's clients).</summary>
internal static class HelperPrograms
{
    /// <summary>
    /// The path of <paramref name="program"/>'s assembly, built beside the running tests: <c>tests/{program}/bin/...</c>
    /// in the same configuration and framework (the test project references it with <c>ReferenceOutputAssembly="false"</c>).
    /// </summary>
    public static string PathOf(string program)
    {
        // AppContext.BaseDirectory is tests/{this project}/bin/{configuration}/{framework}/.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var project = output.Parent!.Parent!.Parent!;
        var path = Path.Combine(project.Parent!.FullName, program, Path.GetRelativePath(project.FullName, output.FullName), program + ".dll");
        Assert.True(File.Exists(path), $"{program} is built beside the tests: {path}");
        return path;
    }
}
