from dailypapers.cli.main import main

main()
