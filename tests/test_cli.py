from moodflow import cli


def test_cli_help_lists_commands(capsys):
    assert cli.main(["--help"]) == 0
    output = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in output


def test_cli_unknown_command_fails(capsys):
    assert cli.main(["no-such-command"]) == 2
    assert "unknown command 'no-such-command'" in capsys.readouterr().err
